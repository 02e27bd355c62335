"""The pipelined consumer's writer: forecast batches written by a process of its own.

Pipelined (``CONSUMER_PIPELINE``), the consume loop's thread fetches, decodes and decides
batch N+1 (``catalog.forecast``) while batch N is written. Written by a thread of the same
process, N's every reply from PostgreSQL waited for the GIL that the loop's thread held,
and so did each hand-over between batches (docs/BENCHMARKS.md, "Fourteenth pass"). This
process has a GIL of its own. It gets what the loop's thread has already built, as
strings and numbers: the read's lines, the products the forecast assumed, the ledger's
COPY text and the new stock. Under the batch's locks it checks the forecast as
``Forecast.holds`` does and writes the batch if it holds (``stock_write_forecast_sql``).

Batches queue: the loop's thread sends N+1 before N is done, so the writer starts N+1 the
moment N commits. Each batch comes back written, or not written with nothing changed (the
forecast did not hold, a redelivery, a database error). Then every batch queued behind
it comes back "not written" unread, until the loop's thread has received them all and
says ``resume``. The loop applies the batches that were not written itself, in order, as
without a writer (``catalog.services.stock_apply_order_events``): so no batch is written
ahead of one before it, and anything unusual takes the one path that handles everything.

The consumer starts the writer before it subscribes, and waits until it is ready. A writer
that dies is replaced once every batch sent to it is received (as not written): a new one
never answers for the batches of the old.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from typing import Any

from catalog.forecast import Forecast

logger = logging.getLogger(__name__)

WRITTEN = "written"
RESUME = "resume"
READY = "ready"
# How long a new writer may take to set Django up before the consumer gives up on it and
# applies every batch itself.
START_TIMEOUT_SECONDS = 60.0


class StockWriter:
    """The writer process, as the loop's thread sees it: ``send`` batches in order,
    ``receive`` their outcomes in the same order."""

    def __init__(self, using: str) -> None:
        self.using = using
        self._process: Any = None
        self._pipe: Any = None
        self._outstanding = 0  # sent down the pipe, not yet received
        self._unsent = 0  # not sent (no writer to take them), received as "not written" after those
        self._refusing = False  # a batch was not written: the ones queued behind it will not be
        self._broken = False  # it could not start: the consumer applies every batch itself
        self.written = 0  # batches written, since this object was made

    @property
    def takes_more(self) -> bool:
        """Whether a batch sent now could be written (the writer can run, and none is
        being refused)."""
        return not self._refusing and not self._broken

    def start(self) -> None:
        """Start the process, if it is not running and nothing sent to one before is still
        to be received, and wait until it is ready. It sets Django up: about a second of
        CPU, better spent before a backlog than in its first seconds (the consumer starts
        it before it subscribes)."""
        if self._broken or self._outstanding or self._unsent or self._running():
            return
        from django.db import connections

        # spawn, not fork: the parent holds librdkafka's threads and a database connection.
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        database = dict(connections[self.using].settings_dict)  # under tests, the test database
        self._process = context.Process(
            target=serve, args=(child, self.using, database, os.getpid()), name="stock-writer", daemon=True
        )
        self._process.start()
        child.close()
        self._refusing = False
        try:
            ready = self._pipe.poll(START_TIMEOUT_SECONDS) and self._pipe.recv() == READY
        except (EOFError, OSError):
            ready = False
        if not ready:
            logger.error(
                "the stock writer process did not start (exit code %s); the consumer applies every batch itself",
                self._process.exitcode,
            )
            self._process.kill()
            self._process, self._broken = None, True
            return
        logger.info("stock writer process %d started", self._process.pid)

    def send(self, forecast: Forecast) -> None:
        """Queue a batch forecast and built ahead (its ``read``, ``ledger`` and decisions).
        With no writer to take it (it died, or could not start), the batch is queued here
        and received as not written, in its place."""
        assert forecast.decisions is not None and forecast.products is not None and forecast.ledger is not None
        self.start()
        products = {pid: (p.stock, p.active) for pid, p in forecast.products.items()}
        batch = (tuple(forecast.read), products, forecast.ledger, forecast.decisions.stock)
        if not self._unsent and self._running() and self._post(batch):
            self._outstanding += 1
        else:
            self._unsent += 1

    def receive(self) -> bool:
        """Wait for the oldest batch sent: True if it was written and committed, False if
        nothing of it was (the caller applies it)."""
        if not self._outstanding:
            self._unsent -= 1
            return False
        self._outstanding -= 1
        try:
            outcome = self._pipe.recv()
        except (EOFError, OSError):
            # Killed mid-batch, its transaction may or may not have committed: applied again
            # by the caller, the ledger tells which. So is each batch queued behind it.
            logger.warning("the stock writer process exited; its batches are applied by the consumer")
            if not self._outstanding:
                self._refusing = False  # the next batch sent starts a new one
            return False
        self.written += outcome == WRITTEN
        if outcome != WRITTEN:
            logger.info("a batch was not written by the stock writer (%s); the consumer applies it", outcome)
            self._refusing = True
        if self._refusing and not self._outstanding:
            self._post(RESUME)  # everything refused has been received: the next can be written
            self._refusing = False
        return outcome == WRITTEN

    def close(self) -> None:
        if self._process is None:
            return
        if self._process.is_alive():
            self._post(None)
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()
        self._process = None

    def _running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def _post(self, message: Any) -> bool:
        """Send down the pipe; False if the writer died meanwhile (its end is closed). A
        batch not posted is received as not written; a new writer starts at the next send."""
        try:
            self._pipe.send(message)
        except OSError:
            return False
        return True


def serve(pipe: Any, using: str, database: dict, parent: int) -> None:
    """The writer process: write what comes down the pipe, in order, until told to stop or
    the consumer is gone."""
    # The consumer stops it; Ctrl-C in a terminal reaches the whole process group, and a
    # batch cut short here would only be applied again.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import DatabaseError, connections, transaction

    from catalog.stock_sql import ReadLines, stock_write_forecast_sql
    from kafka_bridge.faults import crash_point

    connections[using].settings_dict.update(database)
    pipe.send(READY)
    refusing = False
    while True:
        try:
            message = pipe.recv()
        except (EOFError, OSError):  # the consumer is gone
            return
        if message is None:
            connections.close_all()
            return
        if message == RESUME:
            refusing = False
            continue
        if refusing:
            pipe.send("refused: queued behind a batch not written")
            continue
        lines, products, ledger, stock = message
        try:
            with transaction.atomic(using=using):
                written = stock_write_forecast_sql(
                    lines=ReadLines(*lines), products=products, ledger=ledger, stock=stock, using=using
                )
                if written:
                    crash_point("consumer.before_db_commit", with_process=parent)
            outcome = WRITTEN if written else "the forecast did not hold"
        except DatabaseError as exc:  # a redelivery (the ledger's unique index), the database gone
            connections[using].close()
            outcome = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        except Exception as exc:  # never seen; the consumer applies the batch, and logs why
            outcome = f"{type(exc).__name__}: {exc}"
        refusing = outcome != WRITTEN
        pipe.send(outcome)
