"""The AsyncAPI 3.0 document of the three topics, built from ``contracts.topics`` and the
latest schema of each message type. Served at ``/api/asyncapi/`` (JSON, or YAML) and drawn
as a page at ``/api/asyncapi/page/``."""

from __future__ import annotations

from typing import Any

import orjson

from contracts import registry
from contracts.events import ORDER_CANCELLED, OrderEvent, OrderResult, ProductSnapshot
from contracts.topics import DEAD_LETTER_HEADERS, ORDER_EVENTS, TOPICS, Topic

KAFKA_BINDING = "0.5.0"
SERVICES = {
    "orders": "the order service: the web process and `runrelay` send, `runorderconsumer` reads",
    "catalog": "the catalog service: `runconsumer` reads the orders and answers",
}
_PLACED = OrderEvent(
    product_id="CATALOG-001",
    qty=10,
    unit_price=1000,
    total_price=10000,
    order_id="test-order-id-dummy-id",
    user_id="8b2c437c-c8b2-42eb-b9ff-3aa8ee4cac1e",
)
# One message of each kind as it travels; the placed order is the tutorial's line.
EXAMPLES: dict[str, OrderEvent | OrderResult | ProductSnapshot] = {
    "OrderPlaced": _PLACED,
    "OrderCancelled": OrderEvent(
        **{f: getattr(_PLACED, f) for f in _PLACED.__struct_fields__ if f != "event_type"}, event_type=ORDER_CANCELLED
    ),
    "OrderResult": OrderResult(
        order_id=_PLACED.order_id, status="CONFIRMED", reason="", product_id="CATALOG-001", stock_delta=-10
    ),
    "ProductSnapshot": ProductSnapshot(
        product_id="CATALOG-001", product_name="Berlin", unit_price=1000, active=True, version=1765000000000000
    ),
}
# The messages each topic's channel carries: the order topic has two kinds of one type.
_MESSAGES = {
    ORDER_EVENTS.name: {
        "OrderPlaced": "An order was placed: the tutorial's line, with no eventType.",
        "OrderCancelled": 'An order was cancelled: the same fields, with "eventType":"OrderCancelled".',
    },
    "catalog-order-results": {"OrderResult": "What the catalog did with one order event."},
    "catalog-products": {"ProductSnapshot": "A product as the order service checks orders against it."},
}


def document(*, bootstrap_servers: str = "127.0.0.1:9092") -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document, as a dict ready for JSON or YAML."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for topic in TOPICS:
        channel = _channel_id(topic.name)
        for message_type in topic.messages:
            newest = registry.latest(topic.name, message_type.__name__)
            assert newest is not None, f"no schema for {message_type.__name__}: run `manage.py contracts --write`"
            schemas[message_type.__name__] = {k: v for k, v in newest.schema.items() if k != "$schema"}
            schemas[message_type.__name__]["x-version"] = newest.number
        for name, summary in _MESSAGES[topic.name].items():
            messages[name] = _message(topic, name, summary)
        channels[channel] = {
            "address": topic.name,
            "title": topic.name,
            "description": f"{topic.description} Compatibility: {topic.rule}, because {topic.why}.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in _MESSAGES[topic.name]},
            "bindings": {"kafka": {"topic": topic.name, "bindingVersion": KAFKA_BINDING}},
            "x-compatibility": topic.rule,
        }
        refs = [{"$ref": f"#/channels/{channel}/messages/{name}"} for name in _MESSAGES[topic.name]]
        operations[f"{topic.sender}Sends{_pascal(channel)}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"{SERVICES[topic.sender]}.",
            "messages": refs,
            "tags": [{"name": topic.sender}],
        }
        operations[f"{topic.receiver}Receives{_pascal(channel)}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"{SERVICES[topic.receiver]}.",
            "messages": refs,
            "tags": [{"name": topic.receiver}],
        }
    dead = _channel_id(f"{ORDER_EVENTS.name}.DLT")
    channels[dead] = {
        "address": f"{ORDER_EVENTS.name}.DLT",
        "title": f"{ORDER_EVENTS.name}.DLT",
        "description": "Order events the catalog can never apply, byte for byte, with why in the headers "
        "(`manage.py deadletters list`, `replay`). Every topic the consumers read has one.",
        "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
    }
    operations["catalogSendsDeadLetters"] = {
        "action": "send",
        "channel": {"$ref": f"#/channels/{dead}"},
        "summary": "The catalog's consumer sets a message it can never apply aside, and goes on.",
        "messages": [{"$ref": f"#/channels/{dead}/messages/DeadLetter"}],
        "tags": [{"name": "catalog"}],
    }
    messages["DeadLetter"] = {
        "name": "DeadLetter",
        "title": "A dead letter",
        "summary": "The original key and value, unchanged; the headers say why and where from.",
        "headers": {
            "type": "object",
            "properties": {name: {"type": "string", "description": text} for name, text in DEAD_LETTER_HEADERS.items()},
            "required": list(DEAD_LETTER_HEADERS),
        },
        "payload": {"description": "the original message value, whatever it was (maybe not JSON)"},
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "stocksync",
            "version": "1.0.0",
            "description": "The messages the order service and the catalog exchange over Kafka. Each topic "
            "keeps a compatibility rule, checked by `python manage.py contracts --check`; the schemas live "
            "in git, in contracts/schemas/.",
            "tags": [{"name": name, "description": text} for name, text in SERVICES.items()],
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": bootstrap_servers.split(",")[0],
                "protocol": "kafka",
                "description": "the broker of this installation (KAFKA_BOOTSTRAP_SERVERS)",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def _message(topic: Topic, name: str, summary: str) -> dict[str, Any]:
    example = EXAMPLES[name]
    payload = orjson.loads(example.to_json())
    message: dict[str, Any] = {
        "name": name,
        "title": name,
        "summary": summary,
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{type(example).__name__}"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"the message's {topic.key}"},
                "bindingVersion": KAFKA_BINDING,
            }
        },
        "examples": [{"name": f"{name} example", "payload": payload}],
        "x-headers": "none: the message is its JSON value and its key",
    }
    if "orderId" in payload:  # an order's messages and its result share its id
        message["correlationId"] = {"location": "$message.payload#/orderId"}
    return message


def _channel_id(topic: str) -> str:
    words = topic.replace(".", "-").split("-")
    return words[0] + "".join(w.capitalize() for w in words[1:])


def _pascal(name: str) -> str:
    return name[0].upper() + name[1:]
