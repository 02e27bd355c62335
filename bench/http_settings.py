"""The product's settings, plus the bare baseline endpoint (bench/bare_api.py)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bare_api"
