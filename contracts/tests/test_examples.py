"""Every message example a reader sees validates against its schema: the tutorial's line,
the JSON in the README and docs/, and what the labs type into the console producer."""

import re

import orjson
import pytest

from sync.labs import poison, schema_change
from testsupport.contracts import message_type_of, problems
from testsupport.helpers import ROOT

# The tutorial's line, as its author typed it into kafka-console-producer.
TUTORIAL_LINE = (
    '{"productId":"CATALOG-001","qty":10,"unitPrice":1000,"totalPrice":10000,'
    '"orderId":"test-order-id-dummy-id","userId":"8b2c437c-c8b2-42eb-b9ff-3aa8ee4cac1e"}'
)
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Examples written to be refused: a document shows them failing, on purpose.
REFUSED_ON_PURPOSE = {'"quantity":'}


def examples() -> list[tuple[str, str, dict]]:
    """(where, message type, object) for every flat JSON object in the documents that is a message."""
    found = []
    for path in DOCUMENTS:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for text in re.findall(r"\{[^{}]*\}", line):
                try:
                    data = orjson.loads(text)
                except orjson.JSONDecodeError:
                    continue  # a sketch with "…" outside quotes, a set of names: not a message
                if isinstance(data, dict) and (kind := message_type_of(data)):
                    if not any(marker in text for marker in REFUSED_ON_PURPOSE):
                        found.append((f"{path.relative_to(ROOT)}:{number}", kind, data))
    return found


def test_the_tutorials_line_is_an_order_event():
    assert problems("OrderEvent", TUTORIAL_LINE.encode()) == []


def test_the_documents_hold_examples_of_each_message():
    assert {kind for _, kind, _ in examples()} >= {"OrderEvent", "OrderResult"}


@pytest.mark.parametrize(("where", "kind", "data"), examples(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_example_in_the_documents_validates(where, kind, data):
    assert problems(kind, data) == [], f"{where}: not a valid {kind}"


def test_the_labs_messages_validate_and_the_renamed_one_does_not():
    good = [
        poison.event("CATALOG-001", "order-1", total=poison.QTY * poison.PRICE),
        schema_change.line("CATALOG-001", "order-2"),
        schema_change.line("CATALOG-001", "order-3", couponCode="WELCOME10"),
    ]
    for line in good:
        assert problems("OrderEvent", line.encode()) == [], line
    renamed = schema_change.renamed_line("CATALOG-001", "order-4")
    assert problems("OrderEvent", renamed.encode()) == ["(message): 'qty' is a required property"]
