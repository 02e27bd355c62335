"""The AsyncAPI document: valid against the AsyncAPI 3.0.0 specification's own JSON
Schema (vendored in asyncapi-spec/), true to the contracts, and served as JSON, YAML and a page."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from contracts.asyncapi import EXAMPLES, document
from contracts.topics import TOPICS
from testsupport.contracts import problems

SPEC = Path(__file__).parent / "asyncapi-spec" / "asyncapi-3.0.0.schema.json"


@pytest.fixture(scope="module")
def spec_validator():
    return jsonschema.Draft7Validator(json.loads(SPEC.read_text()))


def test_the_document_validates_against_the_asyncapi_3_specification(spec_validator):
    errors = [f"{list(e.path)}: {e.message[:200]}" for e in spec_validator.iter_errors(document())]
    assert errors == []


def test_the_specification_check_can_fail(spec_validator):
    broken = document()
    broken["operations"]["ordersSendsExampleCatalogTopic"]["action"] = "publish"  # AsyncAPI 2's word
    assert list(spec_validator.iter_errors(broken))


def test_it_covers_each_topic_with_its_sender_receiver_key_and_rule():
    doc = document()
    for topic in TOPICS:
        channel = next(c for c in doc["channels"].values() if c["address"] == topic.name)
        assert channel["x-compatibility"] == topic.rule
        sides = {
            (op["action"], op["tags"][0]["name"])
            for op in doc["operations"].values()
            if doc["channels"][op["channel"]["$ref"].rsplit("/", 1)[1]] is channel
        }
        assert sides == {("send", topic.sender), ("receive", topic.receiver)}
        for ref in channel["messages"].values():
            message = doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]
            assert message["bindings"]["kafka"]["key"]["description"] == f"the message's {topic.key}"
    dead = doc["channels"]["exampleCatalogTopicDlt"]
    headers = doc["components"]["messages"]["DeadLetter"]["headers"]["properties"]
    assert dead["address"] == "example-catalog-topic.DLT" and "dlt.reason" in headers


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_each_example_in_the_document_validates_against_its_schema(name):
    assert problems(type(EXAMPLES[name]).__name__, EXAMPLES[name].to_json()) == []


@pytest.mark.django_db(databases=[])
def test_it_is_served_as_json_and_yaml_and_drawn_as_a_page(client):
    as_json = client.get("/api/asyncapi/")
    assert as_json.status_code == 200 and as_json.json()["asyncapi"] == "3.0.0"
    as_yaml = client.get("/api/asyncapi/?format=yaml")
    assert as_yaml["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.content) == as_json.json()
    assert client.get("/api/asyncapi/?format=xml").status_code == 400
    page = client.get("/api/asyncapi/page/").content.decode()
    for topic in TOPICS:
        assert topic.name in page and topic.rule in page
    assert "<script" not in page and "http" not in page.split("<body>")[0]  # nothing fetched: works offline
    assert "/api/asyncapi/page/" in client.get("/api/schema/?format=json").content.decode()  # linked from the docs
