"""The wire formats: one place, no Django.

Three kinds of message cross Kafka:

* ``OrderEvent`` (order service → catalog, the tutorial's topic). A placed order is
  exactly the tutorial's line, field names and order included::

      {"productId":"CATALOG-001","qty":10,"unitPrice":1000,"totalPrice":10000,"orderId":"…","userId":"…"}

  A cancellation is the same fields after ``"eventType":"OrderCancelled"``; a message
  without ``eventType`` is a placed order, as in the tutorial.
* ``OrderResult`` (catalog → order service, keyed by orderId): what the catalog did
  with an order event — ``{"orderId":"…","status":"CONFIRMED","reason":"","productId":"…","stockDelta":-10}``.
* ``ProductSnapshot`` (catalog → order service, compacted, keyed by productId): a
  product as the order service needs to know it.

Each ``from_json`` is the only way a consumer reads one, and rejects anything it could
not apply with an ``InvalidEvent`` that says why, so a bad message is dead-lettered
with a reason instead of crashing or stalling the consumer.

Each is a msgspec ``Struct``: its types and bounds are declared on the fields, and msgspec
parses, checks and builds one in C, in ~0.3 µs, where parsing with orjson, checking field
by field in Python and building a frozen dataclass took ~2.7 µs (every consumed message
pays it). The same declarations are the JSON Schemas in ``contracts/schemas/``
(``python manage.py contracts --write``), so the types and the documents cannot drift
apart. msgspec decides; when it refuses a message, the checks below (``_object``,
``_identifier``, ``_integer``) are run on it only to say why in our words ("field 'qty'
must be an integer, got float"), the words the labs and the dead-letter topic show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final, Literal, NoReturn

import msgspec
import orjson

MAX_ID_LENGTH = 64
MAX_NAME_LENGTH = 200
# Quantities fit a 32-bit column, money a 64-bit one; larger numbers are a mistake.
MAX_QTY = 2**31 - 1
MAX_MONEY = 2**63 - 1

ORDER_PLACED: Final = "OrderPlaced"
ORDER_CANCELLED: Final = "OrderCancelled"
EVENT_TYPES = (ORDER_PLACED, ORDER_CANCELLED)

# What the catalog did with an order event (OrderResult.status), and why (reason).
CONFIRMED: Final = "CONFIRMED"
REJECTED: Final = "REJECTED"
CANCELLED: Final = "CANCELLED"
ResultStatus = Literal["CONFIRMED", "REJECTED", "CANCELLED"]
RESULT_STATUSES = (CONFIRMED, REJECTED, CANCELLED)
INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
UNKNOWN_PRODUCT = "UNKNOWN_PRODUCT"
PRODUCT_INACTIVE = "PRODUCT_INACTIVE"
CANCELLED_FIRST = "CANCELLED_FIRST"  # the cancellation reached the catalog before the order


# How a refusal begins when only msgspec found something wrong (a bug in our checks).
SCHEMA_ONLY = "invalid message: "


class InvalidEvent(ValueError):
    """A message that can never be applied, whatever we retry. ``str()`` is the reason."""


# The fields' types and bounds, as msgspec checks them.
Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH)]
Quantity = Annotated[int, msgspec.Meta(ge=1, le=MAX_QTY)]
Money = Annotated[int, msgspec.Meta(ge=0, le=MAX_MONEY)]
StockDelta = Annotated[int, msgspec.Meta(ge=-MAX_QTY, le=MAX_QTY)]
Reason = Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)]
ProductName = Annotated[str, msgspec.Meta(max_length=MAX_NAME_LENGTH)]
Version = Annotated[int, msgspec.Meta(ge=0, le=MAX_MONEY)]


class OrderEvent(msgspec.Struct, frozen=True, rename="camel"):
    product_id: Identifier
    qty: Quantity
    unit_price: Money
    total_price: Money
    order_id: Identifier
    user_id: Identifier
    event_type: Literal["OrderPlaced", "OrderCancelled"] = ORDER_PLACED

    @property
    def is_cancellation(self) -> bool:
        return self.event_type == ORDER_CANCELLED

    @property
    def log_fields(self) -> dict[str, str]:
        """What a JSON log line about this event carries (``Record.log_fields``)."""
        return {"orderId": self.order_id}

    def to_json(self) -> bytes:
        """Serialise with the tutorial's field names and order, compact."""
        kind = {} if self.event_type == ORDER_PLACED else {"eventType": self.event_type}
        return orjson.dumps(
            {
                **kind,
                "productId": self.product_id,
                "qty": self.qty,
                "unitPrice": self.unit_price,
                "totalPrice": self.total_price,
                "orderId": self.order_id,
                "userId": self.user_id,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes | None) -> OrderEvent:
        """Parse and validate one message value; raise ``InvalidEvent`` with the reason."""
        try:
            event = _ORDER_EVENT.decode(raw or b"")
        except msgspec.DecodeError as exc:
            _refuse(raw, exc, _order_event_reason)
        if not (event.product_id.strip() and event.order_id.strip() and event.user_id.strip()):
            _refuse(raw, None, _order_event_reason)  # blank identifiers: what msgspec does not check
        if event.total_price != event.qty * event.unit_price:
            raise InvalidEvent(
                f"totalPrice {event.total_price} is not qty × unitPrice ({event.qty} × {event.unit_price})"
            )
        return event


class OrderResult(msgspec.Struct, frozen=True, rename="camel"):
    """The catalog's answer to one order event."""

    order_id: Identifier
    status: ResultStatus
    reason: Reason  # why REJECTED, or ""
    product_id: Identifier
    stock_delta: StockDelta  # units taken (negative), given back (positive) or 0

    @property
    def log_fields(self) -> dict[str, str]:
        """What a JSON log line about this event carries (``Record.log_fields``)."""
        return {"orderId": self.order_id}

    def to_json(self) -> bytes:
        """``{"orderId":…,"status":…,"reason":…,"productId":…,"stockDelta":…}``, in that order."""
        return _ENCODER.encode(self)

    @classmethod
    def from_json(cls, raw: bytes | None) -> OrderResult:
        try:
            result = _ORDER_RESULT.decode(raw or b"")
        except msgspec.DecodeError as exc:
            _refuse(raw, exc, _order_result_reason)
        if not (result.order_id.strip() and result.product_id.strip()):
            _refuse(raw, None, _order_result_reason)
        return result


class ProductSnapshot(msgspec.Struct, frozen=True, rename="camel"):
    """A product as the order service validates orders against it. ``version`` grows with
    every change (the catalog's update time in microseconds), so an older snapshot
    arriving late never overwrites a newer one."""

    product_id: Identifier
    product_name: ProductName
    unit_price: Money
    active: bool
    version: Version

    def to_json(self) -> bytes:
        """``{"productId":…,"productName":…,"unitPrice":…,"active":…,"version":…}``, in that order."""
        return _ENCODER.encode(self)

    @classmethod
    def from_json(cls, raw: bytes | None) -> ProductSnapshot:
        try:
            snapshot = _PRODUCT_SNAPSHOT.decode(raw or b"")
        except msgspec.DecodeError as exc:
            _refuse(raw, exc, _product_snapshot_reason)
        if not snapshot.product_id.strip():
            _refuse(raw, None, _product_snapshot_reason)
        return snapshot


_ORDER_EVENT = msgspec.json.Decoder(OrderEvent)
_ORDER_RESULT = msgspec.json.Decoder(OrderResult)
_PRODUCT_SNAPSHOT = msgspec.json.Decoder(ProductSnapshot)
_ENCODER = msgspec.json.Encoder()


def _refuse(raw: bytes | None, exc: msgspec.DecodeError | None, reason: Callable[[dict[str, Any]], None]) -> NoReturn:
    """Raise ``InvalidEvent`` for a message refused, with ``reason(data)``'s words for it
    (msgspec's own if ours find nothing to say: a JSON detail orjson and msgspec read apart)."""
    reason(_object(raw))
    raise InvalidEvent(f"{SCHEMA_ONLY}{exc if exc is not None else 'refused'}") from None


def _order_event_reason(data: dict[str, Any]) -> None:
    """Raise ``InvalidEvent`` for the first thing wrong with an order event, in our words."""
    event_type = data.get("eventType", ORDER_PLACED)
    if event_type not in EVENT_TYPES:
        raise InvalidEvent(f"field 'eventType' must be one of {', '.join(EVENT_TYPES)}, got {event_type!r}")
    _identifier(data, "productId")
    _integer(data, "qty", minimum=1, maximum=MAX_QTY)
    _integer(data, "unitPrice", minimum=0, maximum=MAX_MONEY)
    _integer(data, "totalPrice", minimum=0, maximum=MAX_MONEY)
    _identifier(data, "orderId")
    _identifier(data, "userId")


def _order_result_reason(data: dict[str, Any]) -> None:
    """Raise ``InvalidEvent`` for the first thing wrong with an order result, in our words."""
    status = _field(data, "status")
    if status not in RESULT_STATUSES:
        raise InvalidEvent(f"field 'status' must be one of {', '.join(RESULT_STATUSES)}, got {status!r}")
    reason = _field(data, "reason")
    if not isinstance(reason, str) or len(reason) > MAX_ID_LENGTH:
        raise InvalidEvent(f"field 'reason' must be a string of at most {MAX_ID_LENGTH} characters")
    _identifier(data, "orderId")
    _identifier(data, "productId")
    _integer(data, "stockDelta", minimum=-MAX_QTY, maximum=MAX_QTY)


def _product_snapshot_reason(data: dict[str, Any]) -> None:
    """Raise ``InvalidEvent`` for the first thing wrong with a product snapshot, in our words."""
    _identifier(data, "productId")
    name = _field(data, "productName")
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
        raise InvalidEvent(f"field 'productName' must be a string of at most {MAX_NAME_LENGTH} characters")
    _integer(data, "unitPrice", minimum=0, maximum=MAX_MONEY)
    active = _field(data, "active")
    if not isinstance(active, bool):
        raise InvalidEvent(f"field 'active' must be true or false, got {active!r}")
    _integer(data, "version", minimum=0, maximum=MAX_MONEY)


def _object(raw: bytes | None) -> dict[str, Any]:
    if not raw:
        raise InvalidEvent("empty message value")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidEvent(f"JSON {type(data).__name__} instead of an object")
    return data


def _field(data: dict[str, Any], name: str) -> Any:
    if name not in data:
        raise InvalidEvent(f"missing field {name!r}")
    value = data[name]
    if value is None:
        raise InvalidEvent(f"field {name!r} is null")
    return value


def _identifier(data: dict[str, Any], name: str) -> str:
    value = _field(data, name)
    if not isinstance(value, str):
        raise InvalidEvent(f"field {name!r} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidEvent(f"field {name!r} is empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidEvent(f"field {name!r} is longer than {MAX_ID_LENGTH} characters")
    return value


def _integer(data: dict[str, Any], name: str, *, minimum: int, maximum: int) -> int:
    value = _field(data, name)
    # bool is an int in Python; true/false is not a quantity.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEvent(f"field {name!r} must be an integer, got {type(value).__name__} {value!r}")
    if not minimum <= value <= maximum:
        raise InvalidEvent(f"field {name!r} must be between {minimum} and {maximum}, got {value}")
    return value
