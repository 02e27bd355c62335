#!/usr/bin/env python
"""Django's command-line utility for stocksync."""

import os
import sys
from pathlib import Path


def make_run_settings() -> None:
    """Take what `make run` chose (DB=postgres, RELAY=debezium: its databases, its relay)
    from the file it keeps while it runs, for whatever the environment does not set: so
    `python manage.py lab …` in another terminal talks to the system make run started."""
    run_dir = Path(os.environ.get("STOCKSYNC_RUN_DIR", Path(__file__).resolve().parent / "var" / "run"))
    try:
        lines = (run_dir / "run.env").read_text().splitlines()
    except OSError:
        return
    for line in lines:
        name, _, value = line.partition("=")
        if name and value:
            os.environ.setdefault(name, value)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    make_run_settings()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
