"""manage.py deadletters list|show|replay on the real broker."""

import subprocess
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from catalog.models import StockMovement
from contracts.events import OrderEvent
from testsupport.helpers import consume_orders, manage, produce, stock_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "catalog"], transaction=True)]


def deadletters(*args):
    out = StringIO()
    call_command("deadletters", *args, stdout=out)
    return out.getvalue()


def test_list_show_and_replay_after_the_fix(topic, products, monkeypatch):
    from catalog import consumers

    real_apply = consumers.stock_apply_order_events

    def apply_with_a_bug(*, records, **options):
        if any(r.event.product_id == "CATALOG-002" for r in records):
            raise ZeroDivisionError("a bug in our code")
        return real_apply(records=records, **options)

    monkeypatch.setattr(consumers, "stock_apply_order_events", apply_with_a_bug)
    hit_by_bug = OrderEvent("CATALOG-002", 2, 1000, 2000, "order-hit-by-bug", "u").to_json()
    produce(topic, [b"{broken", hit_by_bug])
    group = f"catalog-{topic}"
    assert consume_orders(topic, group_id=group).dead_lettered == 2

    listing = deadletters("list")
    assert "2 dead letter(s)" in listing
    assert "not JSON" in listing and "a bug in our code" in listing
    letter_id = next(line.split()[0] for line in listing.splitlines() if "a bug" in line)

    shown = deadletters("show", letter_id)
    assert "dlt.exception: ZeroDivisionError" in shown and "order-hit-by-bug" in shown

    # The fix is deployed. Replay only that one, twice (replay is safe).
    monkeypatch.setattr(consumers, "stock_apply_order_events", real_apply)
    assert "replayed 1" in deadletters("replay", "--reason-contains", "a bug", "--all")
    assert "replayed 1" in deadletters("replay", letter_id)
    stats = consume_orders(topic, group_id=group)
    assert (stats.applied, stats.skipped) == (1, 1)
    assert stock_of("CATALOG-002") == 108
    assert StockMovement.objects.filter(order_id="order-hit-by-bug").count() == 1


def test_replay_needs_ids_or_all(topic):
    with pytest.raises(CommandError, match="or pass --all"):
        deadletters("replay")
    with pytest.raises(CommandError, match="no dead letter 7:7"):
        deadletters("show", "7:7")


def test_empty_dead_letter_topic(topic):
    assert "no dead letters" in deadletters("list")


def test_bad_subcommand_is_a_usage_error():
    process = manage("deadletters", "drop", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2 and "invalid choice: 'drop'" in err and "Traceback" not in err
