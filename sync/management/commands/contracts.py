"""``python manage.py contracts``: the message schemas in contracts/schemas/, written and checked."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from contracts import registry
from contracts.compatibility import check
from contracts.topics import TOPICS


class Command(BaseCommand):
    help = (
        "List each topic's rule and schema versions; --write adds the next version of each changed "
        "message type; --check holds every version to its topic's rule (exit 1 on a breach)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--write", action="store_true", help="write changed types as their next schema version")
        parser.add_argument("--check", action="store_true", help="refuse a breaking change (exit 1), as make lint does")
        parser.add_argument(
            "--schemas", type=Path, default=registry.SCHEMAS, help="the schema folder (default: contracts/schemas)"
        )

    def handle(self, *args, write=False, check=False, schemas=registry.SCHEMAS, **options):
        if not schemas.is_dir():
            raise CommandError(f"no schema folder at {schemas}")
        if write:
            for path in registry.write(root=schemas):
                self.stdout.write(f"wrote {path.relative_to(schemas.parent)}")
        if check:
            self._check(schemas)
            return
        if not write:
            for topic in TOPICS:
                names = registry.message_names(topic.name, schemas)
                found = ", ".join(
                    f"{n} v{'1' if (last := registry.latest(topic.name, n, schemas).number) == 1 else f'1–v{last}'}"
                    for n in names
                )
                self.stdout.write(f"{topic.name:24} {topic.rule:20} {found or 'no schema'}")

    def _check(self, schemas: Path) -> None:
        breaches = [str(b) for b in check(root=schemas)]
        drifted = registry.drifted(root=schemas) if schemas == registry.SCHEMAS else []
        for line in breaches:
            self.stderr.write(f"refused: {line}")
        for name in drifted:
            self.stderr.write(f"out of date: {name} differs from its latest schema; run `manage.py contracts --write`")
        if breaches or drifted:
            raise SystemExit(1)
        total = sum(
            len(registry.versions(t.name, n, schemas)) for t in TOPICS for n in registry.message_names(t.name, schemas)
        )
        self.stdout.write(f"contracts: {total} schema version(s) on {len(TOPICS)} topics keep their rules")
