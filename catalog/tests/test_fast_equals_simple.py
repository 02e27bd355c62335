"""The fast layer is the default path, faster: a property test on PostgreSQL.

Hypothesis makes streams of order events with duplicates and redeliveries, cancellations
before and after their order (and for another product), unknown and inactive products,
restocks between batches, several products, and batch boundaries anywhere. Each stream
goes through the default path (``OrderEventsHandler``: the ORM, one batch at a time) and
through the fast layer (``FastOrderEventsHandler``: set-based SQL, each batch forecast
while the one before it is written, as ``kafka_bridge.pipeline`` drives it). Both must
leave the same ledger, the same stock, the same replies and the same dead letters.
"""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from catalog.consumers import OrderEventsHandler
from catalog.fast import stock_sql
from catalog.fast.consumers import FastOrderEventsHandler
from catalog.models import Product, StockMovement
from contracts.events import ORDER_CANCELLED, ORDER_PLACED, OrderEvent
from kafka_bridge.messages import Record

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(databases=["default", "catalog"], transaction=True)]

PRODUCTS = ["CATALOG-001", "CATALOG-002", "CATALOG-003", "NOPE"]  # NOPE: not in the catalog
START = {"CATALOG-001": (40, True), "CATALOG-002": (15, True), "CATALOG-003": (30, False)}  # 003: off sale

# Each orderId has its product (so a cancellation mostly meets its own order's), except
# when ``stray``: a cancellation or a repeat naming another product.
PRODUCT_OF = ["CATALOG-001", "CATALOG-001", "CATALOG-002", "CATALOG-003", "NOPE"]
events = st.builds(
    lambda kind, n, stray, qty: (kind, f"o{n}", stray or PRODUCT_OF[n % len(PRODUCT_OF)], qty),
    st.sampled_from([ORDER_PLACED, ORDER_PLACED, ORDER_CANCELLED]),
    st.integers(0, 9),  # a small pool of orderIds: repeats, and cancellations that meet their order
    st.one_of(st.none(), st.none(), st.none(), st.sampled_from(PRODUCTS)),
    st.integers(1, 25),
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("batch"), st.lists(events, min_size=1, max_size=16)),
        st.tuples(st.just("redeliver"), st.integers(0, 20)),  # an earlier batch, again
        st.tuples(st.just("restock"), st.sampled_from(PRODUCTS[:3]), st.integers(0, 60), st.booleans()),
    ),
    min_size=1,
    max_size=10,
)


def batches_of(plan) -> list:
    """The plan as the consumer would meet it: record batches (offsets in order, a
    redelivered batch with its first offsets) and restocks between them."""
    out, sent, offset = [], [], 0
    for step in plan:
        if step[0] == "batch":
            records = []
            for kind, order_id, product_id, qty in step[1]:
                event = OrderEvent(product_id, qty, 10, qty * 10, order_id, "u", kind)
                records.append(Record("orders", 0, offset, None, None, None, event=event))
                offset += 1
            sent.append(records)
            out.append(("batch", records))
        elif step[0] == "redeliver" and sent:
            out.append(("batch", sent[step[1] % len(sent)]))
        elif step[0] == "restock":
            out.append(step)
    return out


def reset() -> None:
    StockMovement.objects.all().delete()
    Product.objects.exclude(product_id__in=START).delete()
    for product_id, (stock, active) in START.items():
        Product.objects.update_or_create(
            product_id=product_id,
            defaults={"product_name": product_id, "stock": stock, "active": active, "unit_price": 10},
        )


def restock(product_id: str, stock: int, active: bool) -> None:
    Product.objects.filter(product_id=product_id).update(stock=stock, active=active)


def outcome(results) -> tuple:
    """What a run left: the ledger in write order, the stock, the replies, the dead letters."""
    ledger = list(
        StockMovement.objects.order_by("id").values_list(
            "order_id", "kind", "outcome", "reason", "product_id", "delta", "stock_after", "partition", "offset"
        )
    )
    stock = dict(Product.objects.order_by("product_id").values_list("product_id", "stock"))
    replies = [(topic, key, orjson.loads(value)) for result in results for topic, key, value, _ in result.replies]
    letters = [(letter.source.where, letter.reason) for result in results for letter in result.dead_letters]
    counts = [(r.applied, r.refused, r.skipped) for r in results]
    return ledger, stock, replies, letters, counts


def run_default(plan) -> tuple:
    reset()
    handler, results = OrderEventsHandler(), []
    for step in plan:
        if step[0] == "restock":
            restock(*step[1:])
        else:
            results.append(handler.apply(step[1]))
    return outcome(results)


def run_fast(plan) -> tuple:
    """As ``kafka_bridge.pipeline`` drives the handler: batch N+1 prepared (forecast) before
    batch N is applied, made ready once N is, then applied; a restock lands between them."""
    reset()
    handler, results = FastOrderEventsHandler(), []
    batches = [step[1] for step in plan if step[0] == "batch"]
    prepared = [None] * len(batches)
    if batches:
        prepared[0] = handler.prepare(batches[0])
    n = 0
    for step in plan:
        if step[0] == "restock":
            restock(*step[1:])
            continue
        ready = handler.ready(batches[n], prepared[n])
        if n + 1 < len(batches):
            prepared[n + 1] = handler.prepare(batches[n + 1])  # while batch n is written
        results.append(handler.apply(batches[n], ready))
        n += 1
    return outcome(results)


@pytest.mark.parametrize("arrays_up_to", [3, 200], ids=["large-batches-by-copy", "arrays"])
def test_the_fast_layer_leaves_what_the_default_path_leaves(arrays_up_to, monkeypatch):
    monkeypatch.setattr(stock_sql, "ARRAYS_UP_TO", arrays_up_to)  # 3: most batches take the COPY path

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(steps)
    @example(  # restocked between two batches: the second's forecast no longer holds
        [("batch", [(ORDER_PLACED, "o1", "CATALOG-001", 5)]), ("restock", "CATALOG-001", 60, True)]
        + [("batch", [(ORDER_PLACED, "o2", "CATALOG-001", 5)])]
    )
    @example(  # a cancellation before its order, then the order, then both again
        [("batch", [(ORDER_CANCELLED, "o1", "CATALOG-002", 3)]), ("batch", [(ORDER_PLACED, "o1", "CATALOG-002", 3)])]
        + [("redeliver", 0), ("redeliver", 1)]
    )
    def check(plan):
        plan = batches_of(plan)
        assert run_fast(plan) == run_default(plan)

    check()
