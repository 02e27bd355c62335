"""runconsumer on the real broker and PostgreSQL: exactly-once effect, dead letters, shutdown."""

import subprocess
import uuid

import pytest

from catalog.models import StockMovement
from contracts.events import OrderEvent
from testsupport.helpers import ROOT, consume_orders, manage, produce, stock_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "catalog"], transaction=True)]

TUTORIAL_LINE = (
    '{"productId":"CATALOG-001","qty":10,"unitPrice":1000,"totalPrice":10000,'
    '"orderId":"test-order-id-dummy-id","userId":"8b2c437c-c8b2-42eb-b9ff-3aa8ee4cac1e"}'
)


def order(product_id="CATALOG-002", qty=1, order_id=None) -> bytes:
    return OrderEvent(product_id, qty, 1000, qty * 1000, order_id or str(uuid.uuid4()), "user-1").to_json()


def test_tutorial_console_producer_line_lowers_stock_once_however_often_pasted(topic, products, settings):
    # Kafka's own CLI tool, with the tutorial's arguments, the line pasted three times.
    subprocess.run(
        [
            ROOT / "bin" / "kafka-console-producer",
            "--bootstrap-server",
            settings.KAFKA_BOOTSTRAP_SERVERS,
            "--topic",
            topic,
        ],
        input=(TUTORIAL_LINE + "\n") * 3,
        text=True,
        check=True,
        timeout=60,
    )
    stats = consume_orders(topic)
    assert (stats.applied, stats.skipped) == (1, 2)
    assert stock_of("CATALOG-001") == 90
    movement = StockMovement.objects.get(order_id="test-order-id-dummy-id")
    assert (movement.delta, movement.stock_after, movement.topic) == (-10, 90, topic)


def test_duplicate_order_event_is_applied_once_even_across_runs(topic, products):
    produce(topic, [order(qty=4, order_id="order-a"), order(qty=4, order_id="order-a")], key=b"CATALOG-002")
    consume_orders(topic)
    # Redelivery, as after offsets were lost: a new group reads the topic again.
    produce(topic, [order(qty=4, order_id="order-a")], key=b"CATALOG-002")
    stats = consume_orders(topic)
    assert stats.applied == 0 and stats.skipped == 3
    assert stock_of("CATALOG-002") == 106
    assert StockMovement.objects.filter(order_id="order-a").count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--offset-reset", "middle"], "invalid choice: 'middle'"),
        (["--exit-when-idle", "-1"], "invalid positive number value"),
        (["--batch-size", "0"], "invalid positive integer value"),
        (["--topic", " "], "--topic must not be empty"),
        (["--no-such-flag"], "unrecognized arguments"),
    ],
)
def test_runconsumer_rejects_bad_flags_with_a_clear_message(args, message):
    process = manage("runconsumer", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0
    assert message in err
    assert "Traceback" not in err


def test_events_for_one_product_keep_their_order_through_the_ledger(topic, products):
    ids = [f"seq-{i}" for i in range(50)]
    produce(topic, [order(product_id="CATALOG-003", order_id=i) for i in ids], key=b"CATALOG-003")
    consume_orders(topic, batch_size=7)
    movements = list(StockMovement.objects.order_by("id").values_list("order_id", "stock_after"))
    assert [m[0] for m in movements] == ids
    assert [m[1] for m in movements] == list(range(119, 69, -1))
