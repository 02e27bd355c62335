"""The catalog's fast layer (opt-in: ``runconsumer --fast`` or ``CONSUMER_FAST=true``).

The same decisions as ``catalog.services``, reached faster on PostgreSQL:

* ``stock_sql``: set-based SQL instead of the ORM (arrays for a small batch, COPY for a
  large one), a large batch assumed new so that most of the ledger read is spared;
* ``forecast``: with ``kafka_bridge.pipeline``, batch N+1 is decided on the loop's thread
  while batch N is written, and written as decided only if what it assumed still holds;
* ``services`` and ``consumers``: the two put together behind the same handler protocol.

Nothing on the default path imports this package (``make lint`` checks it), and
catalog/tests/test_fast_equals_simple.py holds both paths to the same ledger, stock and
replies.
"""
