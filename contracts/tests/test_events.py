import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.events import (
    EVENT_TYPES,
    MAX_MONEY,
    MAX_QTY,
    ORDER_PLACED,
    RESULT_STATUSES,
    SCHEMA_ONLY,
    InvalidEvent,
    OrderEvent,
    OrderResult,
)

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


# msgspec decides whether a message is valid; our checks only word a refusal. Any JSON
# value in any field: the two must agree, so an accepted event obeys every rule and a
# refused one is refused in our words (msgspec's own would mean they disagree).
JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, MAX_QTY, MAX_QTY + 1, -MAX_QTY, -MAX_QTY - 1, MAX_MONEY, MAX_MONEY + 1, 2**64]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=70),
    st.sampled_from(["", " ", "\t", "X" * 64, "X" * 65, "OrderPlaced", "OrderCancelled", "CONFIRMED"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
ORDER_FIELDS = ["productId", "qty", "unitPrice", "totalPrice", "orderId", "userId", "eventType"]
RESULT_LINE = b'{"orderId":"o-1","status":"CONFIRMED","reason":"","productId":"CATALOG-001","stockDelta":-10}'
RESULT_FIELDS = ["orderId", "status", "reason", "productId", "stockDelta"]


def _mutated(line: bytes, changes: dict) -> bytes:
    data = orjson.loads(line)
    for key, value in changes.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return json.dumps(data).encode()  # not orjson: it cannot write integers beyond 64 bits


def _valid_identifier(value) -> bool:
    return isinstance(value, str) and bool(value.strip()) and len(value) <= 64


def _valid_integer(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(ORDER_FIELDS), st.one_of(st.just(...), JSON_VALUES), max_size=3))
def test_order_event_checks_agree_with_the_schema(changes):
    raw = _mutated(TUTORIAL_LINE, changes)
    try:
        event = OrderEvent.from_json(raw)
    except InvalidEvent as error:
        assert not str(error).startswith(SCHEMA_ONLY), f"refused in msgspec's words, not ours: {error}"
        return
    data = json.loads(raw)
    assert all(_valid_identifier(data[f]) for f in ("productId", "orderId", "userId"))
    assert _valid_integer(data["qty"], 1, MAX_QTY)
    assert _valid_integer(data["unitPrice"], 0, MAX_MONEY) and _valid_integer(data["totalPrice"], 0, MAX_MONEY)
    assert data.get("eventType", ORDER_PLACED) in EVENT_TYPES
    assert event.to_json() == OrderEvent.from_json(event.to_json()).to_json()


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(RESULT_FIELDS), st.one_of(st.just(...), JSON_VALUES), max_size=3))
def test_order_result_checks_agree_with_the_schema(changes):
    raw = _mutated(RESULT_LINE, changes)
    try:
        result = OrderResult.from_json(raw)
    except InvalidEvent as error:
        assert not str(error).startswith(SCHEMA_ONLY), f"refused in msgspec's words, not ours: {error}"
        return
    data = json.loads(raw)
    assert _valid_identifier(data["orderId"]) and _valid_identifier(data["productId"])
    assert data["status"] in RESULT_STATUSES
    assert isinstance(data["reason"], str) and len(data["reason"]) <= 64
    assert _valid_integer(data["stockDelta"], -MAX_QTY, MAX_QTY)
    assert OrderResult.from_json(result.to_json()) == result


def test_order_result_encodes_its_fields_in_order():
    assert OrderResult.from_json(RESULT_LINE).to_json() == RESULT_LINE


@pytest.mark.parametrize(
    ("changes", "accepted"),
    [
        ({"qty": MAX_QTY, "unitPrice": 1, "totalPrice": MAX_QTY}, True),
        ({"qty": MAX_QTY + 1, "unitPrice": 1, "totalPrice": MAX_QTY + 1}, False),
        ({"qty": 1, "unitPrice": MAX_MONEY, "totalPrice": MAX_MONEY}, True),
        ({"qty": 1, "unitPrice": MAX_MONEY + 1, "totalPrice": MAX_MONEY + 1}, False),
        ({"orderId": "X" * 64}, True),
        ({"orderId": "X" * 65}, False),
        ({"userId": " \t"}, False),
    ],
)
def test_bounds_are_where_the_checks_say(changes, accepted):
    raw = _mutated(TUTORIAL_LINE, changes)
    if accepted:
        assert OrderEvent.from_json(raw).order_id
    else:
        with pytest.raises(InvalidEvent) as error:
            OrderEvent.from_json(raw)
        assert not str(error.value).startswith(SCHEMA_ONLY)
