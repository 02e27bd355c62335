"""The base of handlers that write to a database through Django."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import DatabaseError, InterfaceError, OperationalError, connections

R = TypeVar("R")


class DatabaseBatchHandler:
    """Base of handlers that apply a batch in one transaction on the database ``using``.

    A database unreachable or restarting is transient: the loop retries the batch. After
    any database error the connection is closed, so that the retry starts with a fresh one.
    """

    transient_errors: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)
    using = "default"

    def run(self, apply: Callable[..., R], records: list, **kwargs: Any) -> R:
        """``apply(records=records, **kwargs)``; on a database error, close the connection first."""
        try:
            return apply(records=records, **kwargs)
        except DatabaseError:
            connections[self.using].close()
            raise
