"""The wire format of an order event: one place, no Django.

The JSON is exactly the tutorial's line, field names and order included::

    {"productId":"CATALOG-001","qty":10,"unitPrice":1000,"totalPrice":10000,"orderId":"…","userId":"…"}

``OrderEvent.from_json`` is the only way a consumer reads one, and it rejects anything
it could not apply with an ``InvalidEvent`` that says why, so a bad message is
dead-lettered with a reason instead of crashing or stalling the consumer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

MAX_ID_LENGTH = 64
# Quantities fit a 32-bit column, money a 64-bit one; larger numbers are a mistake.
MAX_QTY = 2**31 - 1
MAX_MONEY = 2**63 - 1


class InvalidEvent(ValueError):
    """A message that can never be applied, whatever we retry. ``str()`` is the reason."""


@dataclass(frozen=True, slots=True)
class OrderEvent:
    product_id: str
    qty: int
    unit_price: int
    total_price: int
    order_id: str
    user_id: str

    def to_json(self) -> bytes:
        """Serialise with the tutorial's field names and order, compact."""
        return orjson.dumps(
            {
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
        if not raw:
            raise InvalidEvent("empty message value")
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidEvent(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidEvent(f"JSON {type(data).__name__} instead of an object")
        event = cls(
            product_id=_identifier(data, "productId"),
            qty=_integer(data, "qty", minimum=1, maximum=MAX_QTY),
            unit_price=_integer(data, "unitPrice", minimum=0, maximum=MAX_MONEY),
            total_price=_integer(data, "totalPrice", minimum=0, maximum=MAX_MONEY),
            order_id=_identifier(data, "orderId"),
            user_id=_identifier(data, "userId"),
        )
        if event.total_price != event.qty * event.unit_price:
            raise InvalidEvent(
                f"totalPrice {event.total_price} is not qty × unitPrice ({event.qty} × {event.unit_price})"
            )
        return event


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
