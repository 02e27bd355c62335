"""manage.py deadletters list|show|replay on the real broker."""

import subprocess
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from catalog.models import StockMovement
from catalog.services import DEMO_PRODUCTS
from kafka_bridge.events import OrderEvent
from testsupport.helpers import consume_orders, manage, produce, stock_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "catalog"], transaction=True)]


def deadletters(*args):
    out = StringIO()
    call_command("deadletters", *args, stdout=out)
    return out.getvalue()


def test_list_show_and_replay_after_the_fix(topic, products):
    from catalog.models import Product

    missing_product = OrderEvent("CATALOG-009", 2, 100, 200, "order-late-product", "u").to_json()
    produce(topic, [b"{broken", missing_product])
    group = f"catalog-{topic}"
    assert consume_orders(topic, group_id=group).dead_lettered == 2

    listing = deadletters("list")
    assert "2 dead letter(s)" in listing
    assert "not JSON" in listing and "unknown productId 'CATALOG-009'" in listing
    letter_id = next(line.split()[0] for line in listing.splitlines() if "CATALOG-009" in line)

    shown = deadletters("show", letter_id)
    assert "dlt.exception: UnknownProduct" in shown and "order-late-product" in shown

    # The fix: the product now exists. Replay only that one, twice (replay is safe).
    Product.objects.create(product_id="CATALOG-009", product_name="Seoul", stock=50, unit_price=100)
    assert "replayed 1" in deadletters("replay", "--reason-contains", "unknown productId", "--all")
    assert "replayed 1" in deadletters("replay", letter_id)
    stats = consume_orders(topic, group_id=group)
    assert (stats.applied, stats.skipped) == (1, 1)
    assert stock_of("CATALOG-009") == 48
    assert StockMovement.objects.filter(order_id="order-late-product").count() == 1
    assert len(DEMO_PRODUCTS) == 3  # the demo set itself is untouched


def test_replay_needs_ids_or_all(topic):
    with pytest.raises(CommandError, match="or pass --all"):
        deadletters("replay")
    with pytest.raises(CommandError, match="no dead letter 7:7"):
        deadletters("show", "7:7")


def test_empty_dead_letter_topic(topic):
    assert "no dead letters" in deadletters("list")


def test_bad_subcommand_is_a_usage_error():
    process = manage("deadletters", "drop", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2 and "invalid choice: 'drop'" in err and "Traceback" not in err
