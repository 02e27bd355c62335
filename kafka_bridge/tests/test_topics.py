"""Topic creation and Kafka's own CLI tools, as the tutorial uses them (real broker)."""

import subprocess
import uuid
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from kafka_bridge.topics import topics_ensure
from testsupport.helpers import ROOT

pytestmark = pytest.mark.integration


def kafka_cli(tool: str, *args: str, **kwargs) -> str:
    return subprocess.run(
        [ROOT / "bin" / tool, "--bootstrap-server", settings.KAFKA_BOOTSTRAP_SERVERS, *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    ).stdout


def test_createtopics_creates_each_topic_and_dead_letter_topic_once(capsys):
    run = uuid.uuid4().hex[:8]
    events, results, products = (f"test-{what}-{run}" for what in ("orders", "results", "products"))
    with override_settings(ORDER_EVENTS_TOPIC=events, ORDER_RESULTS_TOPIC=results, PRODUCTS_TOPIC=products):
        call_command("createtopics", "--partitions", "2")
        first = capsys.readouterr().out
        call_command("createtopics")
        second = capsys.readouterr().out
    everything = f"{events}, {events}.DLT, {results}, {results}.DLT, {products}, {products}.DLT"
    assert f"created: {everything}" in first
    assert second.strip() == f"already exist: {everything}"
    assert "PartitionCount: 2" in kafka_cli("kafka-topics", "--describe", "--topic", events)
    # The products topic keeps each product's latest snapshot for ever.
    assert "cleanup.policy=compact" in kafka_cli("kafka-topics", "--describe", "--topic", products)


def test_tutorial_cli_round_trip():
    name = f"quickstart-events-{uuid.uuid4().hex[:8]}"
    kafka_cli("kafka-topics", "--create", "--topic", name, "--partitions", "1")
    assert name in kafka_cli("kafka-topics", "--list").split()
    kafka_cli("kafka-console-producer", "--topic", name, input="first\nsecond\nthird\n")
    everything = kafka_cli("kafka-console-consumer", "--topic", name, "--from-beginning", "--max-messages", "3")
    assert everything.split() == ["first", "second", "third"]
    from_offset_1 = kafka_cli(
        "kafka-console-consumer", "--partition", "0", "--offset", "1", "--topic", name, "--max-messages", "2"
    )
    assert from_offset_1.split() == ["second", "third"]
    group = f"tutorial-{uuid.uuid4().hex[:8]}"
    kafka_cli("kafka-console-consumer", "--topic", name, "--group", group, "--from-beginning", "--max-messages", "3")
    described = kafka_cli("kafka-consumer-groups", "--describe", "--group", group)
    assert name in described and " 3 " in described  # committed offset 3 on partition 0


def test_createtopics_refuses_impossible_settings():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="cannot exceed --replication-factor"):
        call_command("createtopics", "--replication-factor", "1", "--min-insync-replicas", "2")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("createtopics", "--partitions", "0")


def test_createtopics_makes_a_products_topic_created_with_defaults_compacted():
    name = f"test-products-{uuid.uuid4().hex[:8]}"
    topics_ensure(names=[name], partitions=1)  # as the broker's auto-creation would
    with override_settings(PRODUCTS_TOPIC=name):
        call_command("createtopics", stdout=StringIO())
    assert "cleanup.policy=compact" in kafka_cli("kafka-topics", "--describe", "--topic", name)
