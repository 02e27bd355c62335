"""What every consumer command shares: its options and how it runs the loop.

A command names a consumer its app registered (``kafka_bridge.registry``); this adds
``--group-id``, ``--batch-size``, ``--metrics-port`` and ``--exit-when-idle``, and runs
``BatchConsumer`` with the consumer's handlers until SIGINT/SIGTERM (finish the batch in
hand, commit, exit 0), with its heartbeat and, if asked, its metrics.
"""

from __future__ import annotations

import gc
import logging
import signal
from argparse import ArgumentParser, BooleanOptionalAction
from typing import Any

import prometheus_client
from django.conf import settings

from kafka_bridge.argtypes import positive_float, positive_int
from kafka_bridge.consumer import BatchConsumer
from kafka_bridge.heartbeat import Heartbeat
from kafka_bridge.producer import shutdown_publisher
from kafka_bridge.registry import consumer_registered

logger = logging.getLogger(__name__)

GC_FIRST_GENERATION = 50_000


def add_consumer_arguments(parser: ArgumentParser, *, consumer: str) -> None:
    """The options of the registered consumer ``consumer``'s command."""
    default_group = consumer_registered(consumer).group_id()
    parser.add_argument("--group-id", default=default_group, help="consumer group (default: %(default)s)")
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=settings.CONSUMER_BATCH_SIZE,
        help="most events applied per database transaction (default: %(default)s)",
    )
    parser.add_argument(
        "--metrics-port",
        type=positive_int,
        metavar="PORT",
        help="serve this process's Prometheus metrics on http://0.0.0.0:PORT/metrics "
        "(runconsumer --processes N: PORT, PORT+1, …)",
    )
    parser.add_argument(
        "--exit-when-idle",
        type=positive_float,
        metavar="SECONDS",
        help="exit (status 0) after this many seconds without a message; for scripts and tests",
    )
    parser.add_argument(
        "--fast",
        action=BooleanOptionalAction,
        default=settings.CONSUMER_FAST,
        help="run the opt-in fast layer (set-based SQL on PostgreSQL, pipelined in one process) instead of "
        "the default path; same effect, proven equal by the tests (default: CONSUMER_FAST, %(default)s)",
    )


def run_consumer(
    *,
    name: str,
    options: dict[str, Any],
    topic: str | None = None,
    offset_reset: str | None = None,
) -> None:
    """Run one member of ``options["group_id"]`` of the consumer registered as ``name``, in
    this process, until stopped or idle. ``topic``: a one-topic consumer's topic, instead
    of its default (``runconsumer --topic``). ``options["fast"]``: the app's fast handlers, in
    ``kafka_bridge.pipeline``'s loop unless ``CONSUMER_PIPELINE`` is false."""
    spec = consumer_registered(name)
    fast_handlers = spec.fast_handlers if options.get("fast") else None
    fast = fast_handlers is not None
    handlers = (fast_handlers or spec.handlers)()
    if topic is not None:
        (handler,) = handlers.values()
        handlers = {topic: handler}
    loop_class = BatchConsumer
    if fast:
        from kafka_bridge.pipeline import PipelinedConsumer

        loop_class = PipelinedConsumer if settings.CONSUMER_PIPELINE is not False else BatchConsumer
        # The collector's first generation runs every 700 new container objects by default.
        # A batch of 5,000 events makes ~40,000 (messages, records, events, decisions,
        # replies), alive until the batch is done: dozens of collections per batch, each
        # walking them again. The fast layer freezes what the set-up process holds and lets
        # the first generation wait for 50,000 objects; our objects form no cycles, so
        # reference counting frees them either way. bench.ab measures what it pays.
        gc.freeze()
        gc.set_threshold(GC_FIRST_GENERATION, *gc.get_threshold()[1:])
    logger.info("running %s on the %s path", name, "fast" if fast else "default")
    loop = loop_class(
        handlers=handlers,
        group_id=options["group_id"],
        offset_reset=offset_reset or spec.offset_reset,
        batch_size=options["batch_size"],
        batch_wait=settings.CONSUMER_BATCH_WAIT_SECONDS,
        exit_when_idle=options["exit_when_idle"],
        heartbeat=Heartbeat(f"{name}-{options['group_id']}"),
    )
    if options["metrics_port"]:
        prometheus_client.start_http_server(options["metrics_port"])
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: loop.stop())
    try:
        loop.run()
    finally:
        shutdown_publisher()  # what the handlers published on commit goes out now (or the relay sends it)
