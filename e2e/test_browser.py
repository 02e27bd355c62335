"""As a person would use it, in Debian's Chromium driven by Playwright: log into the admin,
place an order in the browsable API, watch the product's stock and ledger change in the
admin, open the Sync page. Screenshots go to var/screenshots/ (ignored by git)."""

import os

import pytest

from testsupport.browser import SHOTS, chromium_page
from testsupport.helpers import consume_orders, consume_results

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.django_db(databases=["default", "catalog"], transaction=True),
]


@pytest.fixture
def page(live_server):
    # Playwright's sync API runs an event loop in this thread; the test's own database
    # calls are synchronous all the same.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with chromium_page(width=1280, height=720) as page:
        yield page
        # Database connections opened inside Playwright's context belong to that context
        # (Django's connections are context-local): close them here, or they outlive the
        # test databases.
        from django.db import connections

        connections.close_all()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def test_order_in_the_browsable_api_shows_up_in_the_admin(page, live_server, topics, replica):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("admin", "admin@example.com", "admin-password-1")

    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin-password-1")
    page.click("input[type=submit]")
    page.wait_for_selector("#sync-link")
    page.screenshot(path=SHOTS / "1-admin-index.png")

    # The session carries over to the browsable API: place the tutorial's order there.
    page.goto(f"{live_server.url}/order-service/admin/orders")
    page.click("text=Raw data")
    page.select_option("#id__content_type", "application/json")
    page.fill("#id__content", '{"productId": "CATALOG-001", "qty": 10, "unitPrice": 1000}')
    page.click("#post-generic-content-form button:has-text('POST')")
    page.wait_for_selector("text=HTTP 201 Created")
    assert "PENDING" in page.content()
    page.screenshot(path=SHOTS / "2-order-placed.png")

    # What runconsumer and runorderconsumer do, in this process.
    from kafka_bridge.producer import shutdown_publisher

    shutdown_publisher()
    consume_orders(topics["ORDER_EVENTS_TOPIC"], idle=2)
    shutdown_publisher()
    consume_results(idle=2)

    page.goto(f"{live_server.url}/admin/catalog/product/?q=CATALOG-001")
    row = page.locator("#result_list tbody tr", has_text="CATALOG-001")
    assert "90" in row.inner_text()
    row.locator("a").first.click()
    ledger = page.locator("#ledger")
    assert "-10" in ledger.inner_text() and "applied" in ledger.inner_text()
    page.screenshot(path=SHOTS / "3-product-ledger.png", full_page=True)

    page.goto(f"{live_server.url}/admin/orders/order/")
    assert "Confirmed" in page.locator("#result_list").inner_text()

    page.click("text=Home")
    page.click("text=Sync status")
    page.wait_for_selector("text=Consumer lag")
    content = page.content()
    assert "Outbox backlog" in content and "Dead letters" in content and "catalog-service" in content
    page.screenshot(path=SHOTS / "4-sync.png", full_page=True)


def test_the_kafka_contract_page_renders_offline_and_is_linked_from_the_api_docs(page, live_server):
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(f"{live_server.url}/api/docs/")
    link = page.get_by_role("link", name="/api/asyncapi/page/").first
    assert link.get_attribute("href") == "/api/asyncapi/page/"  # Swagger UI opens it in a new tab
    page.goto(f"{live_server.url}/api/asyncapi/page/")
    for topic in ("example-catalog-topic", "catalog-order-results", "catalog-products"):
        assert page.locator(f"section[id='{topic}'] h2").inner_text().startswith(topic)
    assert page.locator("section[id='example-catalog-topic'] .rule").inner_text() == "BACKWARD_TRANSITIVE"
    page.screenshot(path=SHOTS / "5-asyncapi.png", full_page=True)
    page_requests = [url for url in fetched if "/api/asyncapi/page/" in url or not url.startswith(live_server.url)]
    assert all(url.startswith(live_server.url) for url in page_requests), page_requests  # nothing from elsewhere
