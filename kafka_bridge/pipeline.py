"""The fast layer's consume loop: the database work on a thread of its own (opt-in).

``kafka_bridge.consumer`` does one batch at a time: fetch, apply, publish, commit. Here
one thread applies batch N+1 while the loop's thread publishes batch N's replies, waits
for their acknowledgements, records N's offsets, and fetches and decodes batch N+2. A
handler that is a ``PreparingHandler`` also works on N+2 ahead (``prepare``; the catalog
forecasts its decisions) and checks that work just before N+2 goes to the applier
(``ready``). The guarantees are the simple loop's:

* batches are applied one after the other, in order, on the applier's one connection;
* a batch's replies are published only once it is committed, and its offsets are
  recorded only once its replies are acknowledged;
* a rebalance that takes partitions away waits for the batch in flight, and its replies.

Chosen by ``runconsumer`` with ``--fast`` (or ``CONSUMER_FAST=true``) in one process.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, runtime_checkable

from django.db import connections

from kafka_bridge.consumer import Batch, BatchConsumer
from kafka_bridge.faults import crash_point
from kafka_bridge.messages import BatchHandler, BatchResult, Record
from kafka_bridge.metrics import observe_applied
from kafka_bridge.tracing import consuming


@runtime_checkable
class PreparingHandler(BatchHandler, Protocol):
    """A handler that works on a batch ahead of applying it."""

    def prepare(self, records: list[Record]) -> Any:
        """On the loop's thread, in batch order, while the batch before is applied."""

    def ready(self, records: list[Record], prepared: Any) -> Any:
        """Just before the batch goes to the applier: ``prepared``, redone if what it
        assumed has moved since."""

    def apply(self, records: list[Record], prepared: Any = None) -> BatchResult:
        """Apply with what ``ready`` gave (None: records applied alone, after a failure)."""


class PipelinedConsumer(BatchConsumer):
    """``BatchConsumer`` with one batch in flight on an applier thread."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._applier = ThreadPoolExecutor(1, thread_name_prefix="apply")
        self._inflight: Future[tuple[Batch, BatchResult]] | None = None

    def take(self, batch: Batch) -> None:
        preparing = {
            topic: handler
            for topic, handler in self.handlers.items()
            if topic in batch.by_topic and isinstance(handler, PreparingHandler)
        }
        ahead = {topic: handler.prepare(batch.by_topic[topic]) for topic, handler in preparing.items()}
        done = self._wait()  # batch N, applied
        # What N+1 assumed may have moved while N was applied.
        prepared = {topic: handler.ready(batch.by_topic[topic], ahead[topic]) for topic, handler in preparing.items()}
        self._inflight = self._applier.submit(self._apply_prepared, batch, prepared)
        if done is not None:
            self.publish(*done)

    def busy(self) -> bool:
        return self._inflight is not None

    def finish(self) -> None:
        done = self._wait()
        if done is not None:
            self.publish(*done)

    def run(self):
        try:
            return super().run()
        finally:
            self._applier.submit(connections.close_all).result()  # the applier's own connection
            self._applier.shutdown()

    def _wait(self) -> tuple[Batch, BatchResult] | None:
        inflight, self._inflight = self._inflight, None
        return inflight.result() if inflight is not None else None

    def _apply_prepared(self, batch: Batch, prepared: dict[str, Any]) -> tuple[Batch, BatchResult]:
        """The applier thread: each topic's records, with what was prepared for them."""
        result = BatchResult()
        for topic, records in batch.by_topic.items():
            handler = self.handlers[topic]
            started = time.monotonic()
            with consuming(topic, records):
                if topic in prepared:
                    ahead = prepared[topic]
                    applied = self.apply(handler, records, lambda rs, h=handler, p=ahead: h.apply(rs, p))
                else:
                    applied = self.apply(handler, records)
            observe_applied(topic, records, started, applied)
            result += applied
        crash_point("consumer.after_db_commit")
        return batch, result
