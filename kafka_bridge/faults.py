"""Named crash points for the fault-injection suite (``make chaos``).

Inert unless ``STOCKSYNC_CRASH_POINTS`` is set, e.g.
``consumer.after_db_commit=0.05,relay.after_send=0.1``: at each named point the
process then SIGKILLs itself with that probability — the crash that no ``finally``
survives, at exactly the moments where a lost or doubled event would be born.
Each crash is first appended to the file ``STOCKSYNC_CRASH_LOG`` (if set), so the suite
can count what it injected.
"""

from __future__ import annotations

import os
import random
import signal


def _parse(spec: str) -> dict[str, float]:
    points = {}
    for item in spec.split(","):
        name, _, probability = item.strip().partition("=")
        if name:
            points[name] = float(probability or 1)
    return points


_POINTS = _parse(os.environ.get("STOCKSYNC_CRASH_POINTS", ""))


def crash_point(name: str, *, with_process: int | None = None) -> None:
    """Die here, at once and uncleanly, if the fault-injection suite asked for it.
    ``with_process``: a pid to kill first (a helper process takes its parent with it, so
    that the crash is the service's, as the suite means it)."""
    probability = _POINTS.get(name)
    if probability is None or random.random() >= probability:
        return
    log = os.environ.get("STOCKSYNC_CRASH_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{name}\n")
    if with_process is not None:
        os.kill(with_process, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
