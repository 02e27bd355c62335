"""A Django project that is not stocksync: the bridge, one small app, nothing of orders or catalog.

It proves ``kafka_bridge`` can be lifted into another project as it is
(``kafka_bridge/tests/test_as_a_library.py`` runs ``scenario.py`` with these settings).
Only what the host must say is here; every other bridge setting takes its default.
"""

import os

import dj_database_url

SECRET_KEY = "bridge-test-project"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "kafka_bridge", "kafka_bridge.tests.project.notes"]
DATABASES = {"default": dj_database_url.parse(os.environ["BRIDGE_TEST_DATABASE_URL"])}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
KAFKA_BOOTSTRAP_SERVERS = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
NOTES_TOPIC = os.environ["BRIDGE_TEST_TOPIC"]
