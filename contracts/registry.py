"""The schema registry, kept in git: ``contracts/schemas/<topic>/<Message>.v<N>.json``.

Each file is a JSON Schema (2020-12) generated from a message type in ``contracts.events``
by msgspec. A version is never edited: a changed type is written as the next version
(``python manage.py contracts --write``), and ``contracts --check`` holds it to its
topic's rule against the earlier ones.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from contracts.topics import TOPICS, MessageType, Topic

SCHEMAS = Path(__file__).resolve().parent / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
_VERSION_FILE = re.compile(r"^(?P<name>\w+)\.v(?P<version>\d+)\.json$")


@dataclass(frozen=True)
class Version:
    topic: str
    message: str
    number: int
    schema: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.message} v{self.number}"


def schema_of(message: MessageType) -> dict[str, Any]:
    """The type's JSON Schema as one flat object (msgspec puts it under ``$defs``)."""
    generated = msgspec.json.schema(message)
    body = generated["$defs"][message.__name__]
    return {"$schema": DIALECT, **body}


def versions(topic: str, message: str, root: Path = SCHEMAS) -> list[Version]:
    """Every checked-in version of one message type, oldest first."""
    found = []
    for path in (root / topic).glob(f"{message}.v*.json"):
        match = _VERSION_FILE.match(path.name)
        if match and match["name"] == message:
            found.append(Version(topic, message, int(match["version"]), json.loads(path.read_text())))
    return sorted(found, key=lambda v: v.number)


def latest(topic: str, message: str, root: Path = SCHEMAS) -> Version | None:
    found = versions(topic, message, root)
    return found[-1] if found else None


def message_names(topic: str, root: Path = SCHEMAS) -> list[str]:
    """The message types that have schemas under one topic's folder."""
    names = {m["name"] for p in (root / topic).glob("*.json") if (m := _VERSION_FILE.match(p.name))}
    return sorted(names)


def drifted(topics: tuple[Topic, ...] = TOPICS, root: Path = SCHEMAS) -> list[str]:
    """The types whose current schema is not their latest checked-in version."""
    return [
        f"{topic.name}: {message.__name__}"
        for topic in topics
        for message in topic.messages
        if (newest := latest(topic.name, message.__name__, root)) is None or newest.schema != schema_of(message)
    ]


def write(topics: tuple[Topic, ...] = TOPICS, root: Path = SCHEMAS) -> list[Path]:
    """Write each type whose schema changed as its next version; returns the new files."""
    written = []
    for topic in topics:
        for message in topic.messages:
            schema = schema_of(message)
            newest = latest(topic.name, message.__name__, root)
            if newest is not None and newest.schema == schema:
                continue
            number = 1 if newest is None else newest.number + 1
            path = root / topic.name / f"{message.__name__}.v{number}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
            written.append(path)
    return written
