"""`contracts --check`'s rules: each kind of breaking change is refused, with the topic,
the rule and the field named; an added optional field passes."""

import copy
import json
import shutil

import pytest

from contracts import registry
from contracts.compatibility import check

EVENTS, RESULTS = "example-catalog-topic", "catalog-order-results"


@pytest.fixture
def schemas(tmp_path):
    """A copy of the checked-in schemas, to add versions to."""
    root = tmp_path / "schemas"
    shutil.copytree(registry.SCHEMAS, root)
    return root


def add_version(root, topic, message, change):
    """Write the next version of a message type: the latest one, changed by ``change``."""
    newest = registry.latest(topic, message, root)
    schema = copy.deepcopy(newest.schema)
    change(schema)
    (root / topic / f"{message}.v{newest.number + 1}.json").write_text(json.dumps(schema))


def rename_qty(schema):
    schema["properties"] = {("quantity" if k == "qty" else k): v for k, v in schema["properties"].items()}
    schema["required"] = ["quantity" if f == "qty" else f for f in schema["required"]]


def qty_as_string(schema):
    schema["properties"]["qty"] = {"type": "string"}


def require_coupon(schema):
    schema["properties"]["couponCode"] = {"type": "string"}
    schema["required"].append("couponCode")


def narrow_qty(schema):
    schema["properties"]["qty"]["maximum"] = 100


def optional_coupon(schema):
    schema["properties"]["couponCode"] = {"type": "string", "maxLength": 32}


def test_the_checked_in_schemas_pass():
    assert check() == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (rename_qty, "field 'qty' renamed to 'quantity'"),
        (qty_as_string, "field 'qty' changed: integer 1..2147483647 → string"),
        (require_coupon, "field 'couponCode' is required, and OrderEvent v1 never writes it"),
        (narrow_qty, "field 'qty' changed: integer 1..2147483647 → integer 1..100"),
    ],
    ids=["renamed", "type-changed", "new-required", "bound-narrowed"],
)
def test_each_breaking_change_is_refused_naming_the_topic_rule_and_field(schemas, change, named):
    add_version(schemas, EVENTS, "OrderEvent", change)
    breaches = [str(b) for b in check(root=schemas)]
    assert breaches, "the breaking change passed"
    assert breaches[0].startswith(f"{EVENTS} (BACKWARD_TRANSITIVE): OrderEvent v2 cannot read what OrderEvent v1")
    assert any(named in b for b in breaches), breaches


def test_an_added_optional_field_passes_even_where_both_ways_must_hold(schemas):
    add_version(schemas, EVENTS, "OrderEvent", optional_coupon)
    add_version(schemas, RESULTS, "OrderResult", optional_coupon)
    assert check(root=schemas) == []


def test_a_removed_field_passes_backward_but_not_full(schemas):
    def drop_reason(schema):
        del schema["properties"]["reason"]
        schema["required"].remove("reason")

    add_version(schemas, RESULTS, "OrderResult", drop_reason)
    breaches = [str(b) for b in check(root=schemas)]
    assert breaches == [
        f"{RESULTS} (FULL): OrderResult v1 cannot read what OrderResult v2 writes: "
        "field 'reason' is required, and OrderResult v2 never writes it"
    ]


def test_transitive_rules_compare_with_every_earlier_version(schemas):
    # v2 makes qty optional (fine for a reader); v3 requires it again. v3 reads v2 only if
    # qty is always there: it is not, so v3 is refused against v2 and passes against v1.
    add_version(schemas, EVENTS, "OrderEvent", lambda s: s["required"].remove("qty"))
    add_version(schemas, EVENTS, "OrderEvent", lambda s: s["required"].insert(1, "qty"))
    breaches = [str(b) for b in check(root=schemas)]
    assert breaches == [
        f"{EVENTS} (BACKWARD_TRANSITIVE): OrderEvent v3 cannot read what OrderEvent v2 writes: "
        "field 'qty' is required, and OrderEvent v2 may leave it out"
    ]


def test_the_types_and_the_checked_in_schemas_agree():
    """Change a type in contracts/events.py and this fails until `manage.py contracts --write`."""
    assert registry.drifted() == []
