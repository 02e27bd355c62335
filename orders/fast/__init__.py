"""The order service's fast layer (opt-in: ``CONSUMER_FAST=true``), on PostgreSQL.

* ``services.order_create_fast``: the replica check, the order and its outbox row in one
  SQL statement (``order_sql``), where the ORM's way takes five round trips;
* ``services.order_apply_results_fast`` and ``consumers``: the order consumer's batch
  read and written by two SQL statements instead of one ORM update per order.

Same effect as ``orders.services``; nothing on the default path imports this package.
"""
