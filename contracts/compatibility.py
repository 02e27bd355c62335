"""Hold each new schema version to its topic's rule against the earlier versions.

Whether one schema can read what another wrote is decided by jsoncompat (a maintained
JSON Schema compatibility checker, Rust with Python bindings), which reasons over the
whole of JSON Schema: types, enums, bounds, lengths. It answers yes or no, so when it says
no, ``_why`` compares the two field by field to name what broke.

A writer writes only the fields its schema declares, while a reader (msgspec) skips the
fields it does not know. So the writer's schema is taken as closed
(``additionalProperties: false``) and the reader's as it is, open: an added optional field
then passes both ways, as it does in practice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsoncompat

from contracts.registry import SCHEMAS, Version, message_names, versions
from contracts.topics import TOPICS, Topic


@dataclass(frozen=True)
class Breach:
    topic: str
    rule: str
    reader: Version
    writer: Version
    problem: str  # names the field

    def __str__(self) -> str:
        return (
            f"{self.topic} ({self.rule}): {self.reader.label} cannot read what {self.writer.label} "
            f"writes: {self.problem}"
        )


def check(topics: tuple[Topic, ...] = TOPICS, root: Path = SCHEMAS) -> list[Breach]:
    """Every breach of a topic's rule among its checked-in versions; none means it passes."""
    breaches = []
    for topic in topics:
        if topic.rule == "NONE":
            continue
        backward, forward = topic.rule.startswith(("BACKWARD", "FULL")), topic.rule.startswith(("FORWARD", "FULL"))
        for name in message_names(topic.name, root):
            history = versions(topic.name, name, root)
            for i, new in enumerate(history[1:], start=1):
                earlier = history[:i] if topic.rule.endswith("_TRANSITIVE") else [history[i - 1]]
                for old in earlier:
                    if backward:
                        breaches += _breaches(topic, reader=new, writer=old)
                    if forward:
                        breaches += _breaches(topic, reader=old, writer=new)
    return breaches


def _breaches(topic: Topic, *, reader: Version, writer: Version) -> list[Breach]:
    if reads(reader.schema, writer.schema):
        return []
    return [Breach(topic.name, topic.rule, reader, writer, problem) for problem in _why(reader, writer)]


def reads(reader: dict[str, Any], writer: dict[str, Any]) -> bool:
    """Does every message ``writer`` can write satisfy ``reader``?"""
    closed = {**writer, "additionalProperties": False} if writer.get("type") == "object" else writer
    return jsoncompat.check_compat(json.dumps(closed), json.dumps(reader), jsoncompat.Role.DESERIALIZER)


def _why(reader: Version, writer: Version) -> list[str]:
    """Name the fields that break it: renamed, removed, newly required, changed or narrowed."""
    read, wrote = reader.schema.get("properties", {}), writer.schema.get("properties", {})
    needed, always = set(reader.schema.get("required", ())), set(writer.schema.get("required", ()))
    problems = []
    for field in sorted(needed - always, key=list(read).index):
        if field in wrote:
            problems.append(f"field '{field}' is required, and {writer.label} may leave it out")
            continue
        twin = next((f for f in wrote if f not in read and _same(wrote[f], read[field])), None)
        if twin is not None:
            before, after = (twin, field) if reader.number > writer.number else (field, twin)
            problems.append(f"field '{before}' renamed to '{after}' ({writer.label} never writes '{field}')")
        else:
            problems.append(f"field '{field}' is required, and {writer.label} never writes it")
    old, new = sorted((reader, writer), key=lambda v: v.number)
    for field in (f for f in read if f in wrote):
        if not reads(read[field], wrote[field]):
            was, now = old.schema["properties"][field], new.schema["properties"][field]
            problems.append(f"field '{field}' changed: {_describe(was)} → {_describe(now)}")
    return problems or [f"{reader.label} refuses messages {writer.label} allows"]


def _describe(spec: dict[str, Any]) -> str:
    """A field's schema in a few words: ``integer 1..2147483647``, ``string or null``."""
    if "anyOf" in spec:
        return " or ".join(_describe(branch) for branch in spec["anyOf"])
    if "enum" in spec:
        return "one of " + ", ".join(map(str, spec["enum"]))
    low = spec.get("minimum", spec.get("minLength"))
    high = spec.get("maximum", spec.get("maxLength"))
    kind = spec.get("type", "anything")
    if low is None and high is None:
        return kind
    span = f"{'' if low is None else low}..{'' if high is None else high}"
    return f"{kind} {span}" if kind != "string" else f"string of length {span}"


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return reads(a, b) and reads(b, a)
