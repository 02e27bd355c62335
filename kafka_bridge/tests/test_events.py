import orjson
import pytest

from kafka_bridge.events import InvalidEvent, OrderEvent

TUTORIAL_LINE = (
    b'{"productId":"CATALOG-001","qty":10,"unitPrice":1000,"totalPrice":10000,'
    b'"orderId":"test-order-id-dummy-id","userId":"8b2c437c-c8b2-42eb-b9ff-3aa8ee4cac1e"}'
)


def test_tutorial_line_decodes():
    event = OrderEvent.from_json(TUTORIAL_LINE)
    assert event == OrderEvent(
        product_id="CATALOG-001",
        qty=10,
        unit_price=1000,
        total_price=10000,
        order_id="test-order-id-dummy-id",
        user_id="8b2c437c-c8b2-42eb-b9ff-3aa8ee4cac1e",
    )


def test_encoding_is_byte_for_byte_the_tutorial_line():
    assert OrderEvent.from_json(TUTORIAL_LINE).to_json() == TUTORIAL_LINE


def test_unknown_extra_fields_are_accepted():
    data = orjson.loads(TUTORIAL_LINE) | {"comment": "hello"}
    assert OrderEvent.from_json(orjson.dumps(data)).qty == 10


def _with(**changes):
    data = orjson.loads(TUTORIAL_LINE)
    for key, value in changes.items():
        if value is ...:
            del data[key]
        else:
            data[key] = value
    return orjson.dumps(data)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty message value"),
        (b"", "empty message value"),
        (b"garbage", "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        (b"[1, 2]", "JSON list instead of an object"),
        (b'"CATALOG-001"', "JSON str instead of an object"),
        (_with(qty=...), "missing field 'qty'"),
        (_with(productId=None), "field 'productId' is null"),
        (_with(qty=2.5, totalPrice=2500), "must be an integer, got float"),
        (_with(qty=10.0), "must be an integer, got float"),
        (_with(qty="10"), "must be an integer, got str"),
        (_with(qty=True, totalPrice=1000), "must be an integer, got bool"),
        (_with(qty=0, totalPrice=0), "'qty' must be between 1 and"),
        (_with(qty=-3, totalPrice=-3000), "'qty' must be between 1 and"),
        (_with(qty=2**40, totalPrice=2**40 * 1000), "'qty' must be between 1 and"),
        (
            # Beyond 64 bits the JSON parser gives a float: refused as one, never truncated.
            b'{"productId":"CATALOG-001","qty":100000000000000000000000,"unitPrice":1,"totalPrice":1,"orderId":"o","userId":"u"}',
            "field 'qty' must be an integer, got float",
        ),
        (_with(unitPrice=-1, totalPrice=-10), "'unitPrice' must be between 0 and"),
        (_with(totalPrice=9999), "totalPrice 9999 is not qty × unitPrice"),
        (_with(productId=""), "field 'productId' is empty"),
        (_with(productId="X" * 65), "longer than 64 characters"),
        (_with(orderId=123), "'orderId' must be a string"),
    ],
)
def test_invalid_messages_are_rejected_with_a_reason(raw, reason):
    with pytest.raises(InvalidEvent) as error:
        OrderEvent.from_json(raw)
    assert reason in str(error.value)
