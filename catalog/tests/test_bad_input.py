"""Every kind of bad Kafka message ends decided once or dead-lettered with a reason,
and the consumer keeps going (real broker, PostgreSQL)."""

import orjson
import pytest

from catalog.models import StockMovement
from kafka_bridge.config import dead_letter_topic
from testsupport.helpers import consume_orders, produce, read_topic, stock_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "catalog"], transaction=True)]

GOOD = {"productId": "CATALOG-003", "qty": 1, "unitPrice": 2000, "totalPrice": 2000, "userId": "u"}


def event(order_id, **changes):
    data = {**GOOD, "orderId": order_id, **changes}
    return orjson.dumps({k: v for k, v in data.items() if v is not ...})


# (label, value, expected reason fragment or None when it must apply)
CASES = [
    ("not JSON", b"hello", "not JSON"),
    ("invalid UTF-8", b'{"productId":"\xff\xfe"}', "not JSON"),
    ("empty value", b"", "empty message value"),
    ("no value", None, "empty message value"),
    ("JSON array", b"[1,2,3]", "JSON list instead of an object"),
    ("JSON number", b"42", "JSON int instead of an object"),
    ("missing field", event("o-missing", qty=...), "missing field 'qty'"),
    ("null field", event("o-null", productId=None), "field 'productId' is null"),
    ("float qty", event("o-float", qty=1.5, totalPrice=3000), "must be an integer, got float"),
    ("string qty", event("o-string", qty="1"), "must be an integer, got str"),
    ("zero qty", event("o-zero", qty=0, totalPrice=0), "'qty' must be between 1"),
    ("negative qty", event("o-negative", qty=-1, totalPrice=-2000), "'qty' must be between 1"),
    ("qty beyond 64-bit", b'{"productId":"CATALOG-003","qty":123456789012345678901234567890}', "must be an integer"),
    ("unknown eventType", event("o-type", eventType="OrderShipped"), "field 'eventType' must be one of"),
    ("inconsistent total", event("o-total", totalPrice=1), "totalPrice 1 is not qty × unitPrice"),
    ("extra fields", event("o-extra", coupon="XMAS", nested={"a": [1]}), None),
    # A well-formed order for a product the catalog does not have is an order outcome
    # (REJECTED, UNKNOWN_PRODUCT, told to the order service), not a bad message.
    ("unknown productId", event("o-unknown", productId="CATALOG-999"), None),
    ("very large message", event("o-large", padding="x" * 500_000), None),
]


def test_each_bad_message_is_dead_lettered_with_its_reason_and_good_ones_apply(topic, products):
    values = [value for _, value, _ in CASES]
    # Interleave a good order after every case: none may be held up by the one before it.
    interleaved = []
    for i, value in enumerate(values):
        interleaved += [value, event(f"good-{i}")]
    produce(topic, interleaved, key=b"CATALOG-003")
    # The same orderId again with a different qty: the first one counts.
    produce(topic, [event("good-0", qty=50, totalPrice=100000)], key=b"CATALOG-003")
    # A record with no key at all is still an order.
    produce(topic, [event("no-key")])

    stats = consume_orders(topic, batch_size=5)

    expected_dead = [(label, reason) for label, _, reason in CASES if reason]
    assert stats.dead_lettered == len(expected_dead)
    applied_ids = set(StockMovement.objects.filter(outcome="applied").values_list("order_id", flat=True))
    assert applied_ids == {f"good-{i}" for i in range(len(CASES))} | {"o-extra", "o-large", "no-key"}
    refused = StockMovement.objects.get(outcome="rejected")
    assert (refused.order_id, refused.reason) == ("o-unknown", "UNKNOWN_PRODUCT")
    assert StockMovement.objects.get(order_id="good-0").delta == -1
    assert stock_of("CATALOG-003") == 120 - len(applied_ids)

    letters = read_topic(dead_letter_topic(topic), expected=len(expected_dead))
    assert len(letters) == len(expected_dead)
    reasons = [dict(m.headers())["dlt.reason"].decode() for m in sorted(letters, key=lambda m: m.offset())]
    for (label, fragment), reason in zip(expected_dead, reasons, strict=True):
        assert fragment in reason, f"{label}: {reason!r}"
