"""A consumer process's sign of life: a file it touches on every turn of its loop.

``manage.py runconsumer --check`` (a container's health check, a monitoring probe) reads
the freshest one: a consumer stuck in a loop that no longer turns is found even though
its process is still there.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.conf import settings


def _folder() -> Path:
    folder = Path(settings.CONSUMER_HEARTBEAT_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Heartbeat:
    """One per consumer process, named after what it consumes (its group)."""

    EVERY_SECONDS = 1.0

    def __init__(self, name: str) -> None:
        self.path = _folder() / f"{name}.{os.getpid()}.heartbeat"
        self._last = 0.0

    def beat(self) -> None:
        now = time.monotonic()
        if now - self._last >= self.EVERY_SECONDS:
            self.path.touch()
            self._last = now

    def stop(self) -> None:
        self.path.unlink(missing_ok=True)


def last_beat_age(name: str) -> float | None:
    """Seconds since any process named ``name`` last beat; None if none ever did."""
    mtimes = [p.stat().st_mtime for p in _folder().glob(f"{name}.*.heartbeat")]
    return time.time() - max(mtimes) if mtimes else None
