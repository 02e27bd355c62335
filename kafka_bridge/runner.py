"""What every consumer command shares: its options and how it runs the loop.

A command names a consumer its app registered (``kafka_bridge.registry``); this adds
``--group-id``, ``--batch-size``, ``--metrics-port`` and ``--exit-when-idle``, and runs
``BatchConsumer`` with the consumer's handlers until SIGINT/SIGTERM (finish the batch in
hand, commit, exit 0), with its heartbeat and, if asked, its metrics.
"""

from __future__ import annotations

import gc
import signal
from argparse import ArgumentParser
from typing import Any

import prometheus_client
from django.conf import settings

from kafka_bridge.argtypes import positive_float, positive_int
from kafka_bridge.consumer import BatchConsumer
from kafka_bridge.heartbeat import Heartbeat
from kafka_bridge.producer import shutdown_publisher
from kafka_bridge.registry import consumer_registered

# The collector's first generation is collected every 700 new container objects by
# default. A batch of 5,000 events makes ~40,000 (messages, records, events, decisions,
# results), most alive until the batch is done: dozens of collections per batch, each
# promoting the batch's objects a generation, until a full collection walks them all.
# Once the process is set up, what it holds (Django, the models, the clients) is frozen
# out of the collector's sight, and the first generation waits for 50,000 objects:
# 1.7 µs less per event in the consumer (docs/BENCHMARKS.md, "Tenth pass"). Our objects
# form no reference cycles; refcounting frees them when the batch is done either way.
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


def run_consumer(
    *, name: str, options: dict[str, Any], topic: str | None = None, offset_reset: str | None = None
) -> None:
    """Run one member of ``options["group_id"]`` of the consumer registered as ``name``, in
    this process, until stopped or idle. ``topic``: a one-topic consumer's topic, instead
    of its default (``runconsumer --topic``)."""
    spec = consumer_registered(name)
    handlers = spec.handlers()
    if topic is not None:
        (handler,) = handlers.values()
        handlers = {topic: handler}
    loop = BatchConsumer(
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
    gc.freeze()
    gc.set_threshold(GC_FIRST_GENERATION, *gc.get_threshold()[1:])
    try:
        loop.run()
    finally:
        shutdown_publisher()  # what the handlers published on commit goes out now (or the relay sends it)
