"""The message schemas as the tests hold examples and published messages to them."""

from __future__ import annotations

import functools
from typing import Any

import jsonschema
import orjson

from contracts import registry
from contracts.events import OrderEvent, OrderResult, ProductSnapshot
from contracts.topics import TOPICS

MESSAGE_TYPES = {m.__name__: (topic.name, m) for topic in TOPICS for m in topic.messages}
# The field that tells one message type's example from another's (and from an HTTP body).
_TELLS = {"OrderEvent": "totalPrice", "OrderResult": "stockDelta", "ProductSnapshot": "productName"}


@functools.cache
def validator(message: str) -> jsonschema.Draft202012Validator:
    topic, _ = MESSAGE_TYPES[message]
    newest = registry.latest(topic, message)
    assert newest is not None, f"no schema for {message}"
    return jsonschema.Draft202012Validator(newest.schema, format_checker=jsonschema.FormatChecker())


def message_type_of(example: dict[str, Any]) -> str | None:
    """Which message type a JSON object in a document is an example of (None: not a message)."""
    return next((name for name, field in _TELLS.items() if field in example), None)


def problems(message: str, value: bytes | dict[str, Any]) -> list[str]:
    data = orjson.loads(value) if isinstance(value, bytes) else value
    return [f"{'/'.join(map(str, e.path)) or '(message)'}: {e.message}" for e in validator(message).iter_errors(data)]


def check_what_is_published() -> None:
    """From now on, every message this process serialises is checked against its schema
    (an AssertionError in the test that made it, if it does not validate)."""
    for message in (OrderEvent, OrderResult, ProductSnapshot):
        serialise = message.to_json

        def checked(self, _serialise=serialise, _name=message.__name__) -> bytes:
            value = _serialise(self)
            found = problems(_name, value)
            assert not found, f"{_name} does not match its schema: {found}: {value!r}"
            return value

        message.to_json = checked  # type: ignore[method-assign]
