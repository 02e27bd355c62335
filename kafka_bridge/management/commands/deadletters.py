"""``python manage.py deadletters list|show|replay``: the messages a consumer refused, and why."""

import sys

from confluent_kafka import KafkaException
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from kafka_bridge.config import dead_letter_topic
from kafka_bridge.deadletters import StoredDeadLetter, dead_letters_read, dead_letters_replay


class Command(BaseCommand):
    help = "Inspect the dead-letter topic and send chosen messages back after a fix."

    def add_arguments(self, parser):
        parser.add_argument(
            "--topic",
            default=None,
            help="the consumed topic whose dead letters to read (default: DEAD_LETTERS_DEFAULT_TOPIC, here "
            f"{settings.DEAD_LETTERS_DEFAULT_TOPIC})",
        )
        actions = parser.add_subparsers(dest="action", required=True, metavar="list|show|replay")
        actions.add_parser("list", help="one line per dead letter: id, original position, reason")
        show = actions.add_parser("show", help="everything about some dead letters")
        show.add_argument("ids", nargs="+", metavar="PARTITION:OFFSET")
        replay = actions.add_parser("replay", help="send dead letters back to their original topic")
        replay.add_argument("ids", nargs="*", metavar="PARTITION:OFFSET")
        replay.add_argument("--all", action="store_true", help="replay every dead letter")
        replay.add_argument("--reason-contains", metavar="TEXT", help="only those whose reason contains TEXT")

    def handle(self, *args, **options):
        consumed = options["topic"] or settings.DEAD_LETTERS_DEFAULT_TOPIC
        if not consumed:
            raise CommandError("name the consumed topic: --topic TOPIC (or set DEAD_LETTERS_DEFAULT_TOPIC)")
        topic = dead_letter_topic(consumed)
        try:
            letters = dead_letters_read(topic=topic)
        except KafkaException as exc:
            raise CommandError(f"could not read {topic} from {settings.KAFKA_BOOTSTRAP_SERVERS}: {exc}") from exc
        action = options["action"]
        if action == "list":
            self._list(topic, letters)
        elif action == "show":
            for letter in self._select(letters, options["ids"]):
                self._show(letter)
        else:
            self._replay(letters, options)

    def _list(self, topic: str, letters: list[StoredDeadLetter]) -> None:
        if not letters:
            self.stdout.write(f"{topic}: no dead letters")
            return
        self.stdout.write(f"{topic}: {len(letters)} dead letter(s)")
        self.stdout.write(f"{'id':<10} {'original':<36} reason")
        for letter in letters:
            self.stdout.write(f"{letter.id:<10} {letter.original:<36} {letter.reason}")
        self.stdout.write(
            "\nshow one: manage.py deadletters show ID · send back after a fix: manage.py deadletters replay ID"
        )

    def _show(self, letter: StoredDeadLetter) -> None:
        value = (letter.value or b"").decode(errors="replace")
        self.stdout.write(f"dead letter {letter.id}")
        for name, header in sorted(letter.headers.items()):
            self.stdout.write(f"  {name}: {header}")
        self.stdout.write(f"  key: {letter.key!r}")
        self.stdout.write(
            f"  value ({len(letter.value or b'')} bytes): {value[:2000]}{' …' if len(value) > 2000 else ''}\n"
        )

    def _replay(self, letters: list[StoredDeadLetter], options) -> None:
        if options["all"] == bool(options["ids"]):
            raise CommandError("name the dead letters to replay (PARTITION:OFFSET …) or pass --all")
        chosen = letters if options["all"] else self._select(letters, options["ids"])
        if options["reason_contains"]:
            chosen = [letter for letter in chosen if options["reason_contains"] in letter.reason]
        try:
            with tqdm(total=len(chosen), desc="replaying", unit=" letters", disable=not sys.stderr.isatty()) as bar:
                count = dead_letters_replay(chosen, progress=bar.update)
        except (ValueError, RuntimeError, KafkaException) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"replayed {count} dead letter(s); the consumer applies each at most once")

    def _select(self, letters: list[StoredDeadLetter], ids: list[str]) -> list[StoredDeadLetter]:
        by_id = {letter.id: letter for letter in letters}
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise CommandError(
                f"no dead letter {', '.join(unknown)} (ids are PARTITION:OFFSET, see `deadletters list`)"
            )
        return [by_id[i] for i in ids]
