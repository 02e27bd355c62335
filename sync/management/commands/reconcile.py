"""``python manage.py reconcile``: are orders and the catalog's stock in sync? Exit 0 if so, 1 if not."""

import json
import sys
from datetime import timedelta

from django.core.management.base import BaseCommand
from tqdm import tqdm

from kafka_bridge.argtypes import non_negative_float
from sync.reconcile import ReconcileReport, sync_reconcile

SHOW = 20  # rows per finding in the table; --json has them all


class Command(BaseCommand):
    help = "Compare orders with the catalog's ledger and stock. Exit status 0 when in sync, 1 otherwise."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=non_negative_float,
            default=60.0,
            metavar="SECONDS",
            help="only orders placed at least this long ago must be applied (default: %(default)s)",
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **options):
        older_than = timedelta(seconds=options["older_than"])
        # A bar on a terminal (stderr), nothing when piped: the report is what scripts read.
        with tqdm(desc="checking orders and ledger rows", unit=" rows", disable=not sys.stderr.isatty()) as bar:
            report = sync_reconcile(older_than=older_than, progress=bar.update)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), default=str, indent=2))
        else:
            self.stdout.write(render(report))
        if not report.in_sync:
            raise SystemExit(1)


def render(report: ReconcileReport) -> str:
    lines = [
        f"Checked {report.orders_checked} order(s) older than {report.older_than_seconds:g}s "
        f"and {report.movements_checked} ledger row(s) at {report.checked_at:%Y-%m-%d %H:%M:%S %Z}.",
        "",
    ]
    if report.in_sync:
        return "\n".join(
            [
                *lines,
                "IN SYNC: every order is decided once and its status agrees, every ledger row has its order, "
                "stock agrees.",
            ]
        )

    lines += section(
        report.missing,
        "ORDER(S) NOT APPLIED TO STOCK",
        ["orderId", "productId", "qty", "created", "outbox"],
        lambda m: [m.order_id, m.product_id, m.qty, f"{m.created_at:%Y-%m-%d %H:%M:%S}", m.outbox],
        [
            "  What to do: 'unsent' → is `manage.py runrelay` running, and is the broker up? (it retries by itself)",
            "              'sent'   → is `manage.py runconsumer` running? Its log says what it waits for;",
            "                         `manage.py deadletters list` shows events it refused, and why.",
        ],
    )
    lines += section(
        report.statuses,
        "ORDER(S) WHOSE STATUS DISAGREES WITH THE CATALOG",
        ["orderId", "status", "catalog says", "detail"],
        lambda m: [m.order_id, m.status, m.catalog_says, m.detail],
        [
            "  What to do: 'result has not reached' → is `manage.py runorderconsumer` running? Is",
            "              `manage.py runconsumer` (it publishes each result before it moves past the",
            "              order's event, and answers again an event it re-reads after a crash)?",
            "              'cancellation not applied' → as for an order not applied (relay, runconsumer).",
            "              'contradicts' → the order was changed by hand; set it to what the catalog says.",
        ],
    )
    lines += section(
        report.orphans,
        "LEDGER ROW(S) WITH NO ORDER",
        ["orderId", "productId", "delta", "from", "applied"],
        lambda o: [o.order_id, o.product_id, o.delta, o.where, f"{o.applied_at:%Y-%m-%d %H:%M:%S}"],
        [
            "  What to do: these events did not come from the order service (a message typed into",
            "              kafka-console-producer, another producer on the topic). Find the producer;",
            "              correct the stock by hand only if the change was wrong.",
        ],
    )
    lines += section(
        report.mismatches,
        "PRODUCT(S) WHOSE STOCK DISAGREES WITH THE LEDGER",
        ["productId", "stock", "ledger says", "detail"],
        lambda m: [m.product_id, m.stock, m.expected, m.detail],
        [
            "  What to do: stock was changed outside the consumer (admin, SQL). Set it to what the",
            "              ledger says, or record the change you meant as a ledger row.",
        ],
    )
    return "\n".join([*lines, "OUT OF SYNC (exit status 1)."])


def section(findings: list, title: str, headers: list[str], row, advice: list[str]) -> list[str]:
    """One kind of finding: how many, the first ``SHOW`` as a table, and what to do."""
    if not findings:
        return []
    shown = [f"{len(findings)} {title}", table(headers, [row(f) for f in findings[:SHOW]])]
    if len(findings) > SHOW:
        shown.append(f"  … and {len(findings) - SHOW} more (--json lists all)")
    return [*shown, *advice, ""]


def table(headers: list[str], rows: list[list]) -> str:
    cells = [headers, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    fmt = "  " + "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(
        [fmt.format(*headers), fmt.format(*("-" * w for w in widths)), *(fmt.format(*r) for r in cells[1:])]
    )
