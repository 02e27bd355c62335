"""Each topic's contract: what it carries, who sends and who reads, and how it may change.

The compatibility rules are Confluent Schema Registry's, with its meaning:

* BACKWARD: a reader with the new schema reads what the previous schema wrote.
* FORWARD: a reader still on the previous schema reads what the new schema writes.
* FULL: both.
* ``_TRANSITIVE``: against every earlier version, not only the previous one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from contracts.events import OrderEvent, OrderResult, ProductSnapshot

Rule = Literal["BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"]
MessageType = type[OrderEvent] | type[OrderResult] | type[ProductSnapshot]


@dataclass(frozen=True)
class Topic:
    name: str
    rule: Rule
    why: str  # why this rule, in a sentence
    messages: tuple[MessageType, ...]
    key: str  # the message field the key is
    sender: str
    receiver: str
    description: str


ORDER_EVENTS = Topic(
    name="example-catalog-topic",
    rule="BACKWARD_TRANSITIVE",
    why="the replay lab re-reads every event ever written, so a reader must read all of them",
    messages=(OrderEvent,),
    key="productId",
    sender="orders",
    receiver="catalog",
    description=(
        "The tutorial's topic: an order placed (no eventType, the tutorial's line) or cancelled "
        '("eventType":"OrderCancelled"). Keyed by productId, so one product\'s events stay in order.'
    ),
)
ORDER_RESULTS = Topic(
    name="catalog-order-results",
    rule="FULL",
    why="either service may be deployed first, so old and new readers must read old and new results",
    messages=(OrderResult,),
    key="orderId",
    sender="catalog",
    receiver="orders",
    description="What the catalog did with each order event: CONFIRMED, REJECTED (with a reason) or CANCELLED.",
)
PRODUCTS = Topic(
    name="catalog-products",
    rule="BACKWARD_TRANSITIVE",
    why="the topic is compacted and the order service rebuilds its replica from its start",
    messages=(ProductSnapshot,),
    key="productId",
    sender="catalog",
    receiver="orders",
    description="The products the order service checks orders against (compacted: the latest per key).",
)

TOPICS = (ORDER_EVENTS, ORDER_RESULTS, PRODUCTS)

# The headers a dead letter carries (kafka_bridge.deadletters): the original key and value
# are kept byte for byte on "<topic>.DLT".
DEAD_LETTER_HEADERS = {
    "dlt.reason": "why the message can never be applied, e.g. \"missing field 'qty'\"",
    "dlt.exception": "the exception's class, e.g. InvalidEvent",
    "dlt.original.topic": "the topic it was read from",
    "dlt.original.partition": "its partition there",
    "dlt.original.offset": "its offset there",
    "dlt.original.timestamp": "its timestamp there, in ms",
}
