"""Settings for stocksync, read from the environment with defaults that work locally.

With no database URL set, each service gets a SQLite file under ``var/`` (the embedded
default for ``make run``); tests and CI set ``ORDERS_DATABASE_URL`` and
``CATALOG_DATABASE_URL`` to PostgreSQL.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("STOCKSYNC_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEVELOPMENT_SECRET_KEY = "django-insecure-stocksync-development-key"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", DEVELOPMENT_SECRET_KEY)
# Development by default (make run); production is DJANGO_DEBUG=false, and then the
# secret key and the allowed hosts must come from the environment.
DEBUG = env_bool("DJANGO_DEBUG", True)
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
if not DEBUG:
    from django.core.exceptions import ImproperlyConfigured

    if SECRET_KEY == DEVELOPMENT_SECRET_KEY or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured(
            "DJANGO_DEBUG is off (production) but DJANGO_SECRET_KEY is unset, the development key, or "
            "shorter than 32 characters. Generate one: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    if "DJANGO_ALLOWED_HOSTS" not in os.environ:
        raise ImproperlyConfigured("DJANGO_DEBUG is off (production): set DJANGO_ALLOWED_HOSTS, e.g. shop.example.com")
    CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    # Behind the documented proxy (README, "Production"): it terminates TLS and sets
    # X-Forwarded-Proto; it must overwrite that header, never pass on a client's.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Plain HTTP is redirected to HTTPS, except the probes a load balancer sends from inside.
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    # HSTS: browsers use HTTPS only, for a year. Start lower (DJANGO_SECURE_HSTS_SECONDS=3600)
    # on a domain new to HTTPS; preload only once every subdomain serves HTTPS.
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",  # API tokens for clients: manage.py drf_create_token <user>
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from here, not a CDN
    "kafka_bridge",
    "orders",
    "catalog",
    "sync",  # what reads both services: reconcile, the Sync page, the admin's front page
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.api_not_found.ApiNotFoundMiddleware",  # a 404 under /api/ is JSON, DEBUG or not
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",  # a database down: 503, not 500
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


PG_PREPARED_STATEMENTS = env_bool("PG_PREPARED_STATEMENTS", True)


def database(url_env: str, sqlite_name: str) -> dict:
    url = os.environ.get(url_env)
    if url:
        db = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
        if PG_PREPARED_STATEMENTS and db["ENGINE"] == "django.db.backends.postgresql":
            # Parameters bound by the server, and a statement run twice on a connection
            # kept prepared there: PostgreSQL parses and plans it once, not per request,
            # which halves its CPU per order.
            # Django leaves both off for poolers in transaction mode (PgBouncer before
            # 1.21, or without max_prepared_statements): PG_PREPARED_STATEMENTS=false there.
            db["OPTIONS"] = {**db.get("OPTIONS", {}), "server_side_binding": True, "prepare_threshold": 2}
        return db
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # timeout: the web process, its publisher thread and the relay share the file.
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / sqlite_name,
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
    }


DATABASES = {
    "default": database("ORDERS_DATABASE_URL", "orders.sqlite3"),  # order service
    "catalog": database("CATALOG_DATABASE_URL", "catalog.sqlite3"),  # catalog service
}
DATABASE_ROUTERS = ["config.routers.ServiceRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Session for the browsable API (log in at /api-auth/login/ or the admin), token for
    # clients ("Authorization: Token <key>"). Orders need a user; the catalog is public.
    # Token first: a client without valid credentials gets 401 with "WWW-Authenticate: Token".
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # A database that cannot be reached answers 503 with a {"detail": …}, not a 500.
    "EXCEPTION_HANDLER": "config.exceptions.exception_handler",
    # Anonymous requests, per IP; order placement adds its own limit (orders.apis).
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.AnonymousRateThrottle"],
}


def throttle_rate(name: str, default: str) -> str | None:
    """A rate such as "600/minute" (per second, minute, hour or day); "off" removes the limit."""
    value = os.environ.get(name, default).strip()
    return None if value.lower() in {"", "off", "none"} else value


# Rate limits (429 with Retry-After past them). Read on each request (config/throttling.py),
# counted in Django's cache: the default local-memory cache counts per web process, so with
# N gunicorn workers a client gets up to N times the rate; set CACHES to a shared cache
# (Redis, Memcached) to count across processes.
THROTTLE_RATES = {
    # Orders placed per user: generous for people and scripts, a wall for a runaway loop.
    "order_placement": throttle_rate("THROTTLE_ORDER_PLACEMENT", "600/minute"),
    # Requests without credentials (the public catalog, the schema), per client IP.
    "anon": throttle_rate("THROTTLE_ANON", "300/minute"),
    # Login attempts (admin and /api-auth/login/), per client IP and per username tried.
    "login_ip": throttle_rate("THROTTLE_LOGIN_IP", "20/minute"),
    "login_username": throttle_rate("THROTTLE_LOGIN_USERNAME", "10/minute"),
}
# Proxies in front of the web server that append to X-Forwarded-For: the client's IP for
# the limits above is read that many hops from the right. 0 (default): the connection's
# own address, so a client cannot pick its IP by sending the header itself.
REST_FRAMEWORK["NUM_PROXIES"] = int(os.environ.get("THROTTLE_PROXIES", "0"))

# Idempotency-Key (orders.idempotency): how long a key answers with its first order.
IDEMPOTENCY_KEY_TTL_HOURS = float(os.environ.get("IDEMPOTENCY_KEY_TTL_HOURS", "24"))

SPECTACULAR_SETTINGS = {
    "TITLE": "stocksync",
    "DESCRIPTION": (
        "Orders lower catalog stock through Apache Kafka. This is the HTTP side; the Kafka side's "
        "contract (topics, messages, keys, compatibility rules) is the AsyncAPI document: "
        "[/api/asyncapi/page/](/api/asyncapi/page/) ([JSON](/api/asyncapi/), [YAML](/api/asyncapi/?format=yaml))."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.document_layer_statuses",
    ],
}

# --- Kafka ------------------------------------------------------------------------
# Every Kafka name is defined here once and read from the environment.
KAFKA_BOOTSTRAP_SERVERS = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
# The tutorial's topic: order events from the order service to the catalog service.
ORDER_EVENTS_TOPIC = os.environ.get("ORDER_EVENTS_TOPIC", "example-catalog-topic")
# Messages the consumer cannot apply go to "<topic><suffix>" with the reason in headers.
DEAD_LETTER_SUFFIX = os.environ.get("DEAD_LETTER_SUFFIX", ".DLT")
CATALOG_CONSUMER_GROUP = os.environ.get("CATALOG_CONSUMER_GROUP", "catalog-service")
# The other direction: the catalog's answer to each order event (keyed by orderId) and
# its products (compacted, keyed by productId), consumed by the order service.
ORDER_RESULTS_TOPIC = os.environ.get("ORDER_RESULTS_TOPIC", "catalog-order-results")
PRODUCTS_TOPIC = os.environ.get("PRODUCTS_TOPIC", "catalog-products")
ORDERS_CONSUMER_GROUP = os.environ.get("ORDERS_CONSUMER_GROUP", "order-service")
# The admin marks products below this stock as low.
LOW_STOCK_THRESHOLD = int(os.environ.get("LOW_STOCK_THRESHOLD", "10"))
# GET /api/orders/<orderId>/?wait=N waits at most this long for a final status.
ORDER_WAIT_MAX_SECONDS = float(os.environ.get("ORDER_WAIT_MAX_SECONDS", "30"))
# Used only by `manage.py createtopics`: the project creates topics only when told to.
# A 3-broker cluster (make cluster): 6 partitions, 3 replicas, 2 in sync for a write.
# (The bridge's names; the environment keeps the names the README has always given.)
TOPIC_PARTITIONS = int(os.environ.get("ORDER_EVENTS_PARTITIONS", "3"))
TOPIC_REPLICATION_FACTOR = int(os.environ.get("ORDER_EVENTS_REPLICATION_FACTOR", "1"))
TOPIC_MIN_INSYNC_REPLICAS = int(os.environ.get("ORDER_EVENTS_MIN_INSYNC_REPLICAS", "1"))
# `manage.py deadletters` reads this topic's dead letters unless told --topic.
DEAD_LETTERS_DEFAULT_TOPIC = ORDER_EVENTS_TOPIC

# Extra librdkafka settings for every client, e.g. security for a managed cluster:
# KAFKA_CLIENT_CONFIG="security.protocol=SASL_SSL,sasl.mechanism=PLAIN,..."
KAFKA_CLIENT_CONFIG = dict(
    item.split("=", 1) for item in os.environ.get("KAFKA_CLIENT_CONFIG", "").split(",") if "=" in item
)
# Producer: acks=all + idempotence so a retry after a lost ack never writes twice.
# linger.ms: how long a producer waits for more messages to send together. The relay
# sends thousands at a time and gains from it; a web request sends one, and every
# millisecond of waiting is a millisecond of order-to-stock latency.
KAFKA_PRODUCER_CONFIG = {
    "acks": "all",
    "enable.idempotence": True,
    # The Java client's partitioner (murmur2 of the key), not librdkafka's default (CRC32):
    # a productId then lands on the same partition whoever sends it: our relay, Kafka
    # Connect (RELAY=debezium), or kafka-console-producer with parse.key.
    "partitioner": "murmur2_random",
    "linger.ms": int(os.environ.get("KAFKA_PRODUCER_LINGER_MS", "5")),
    # A web process gives up on its copy after this long; the relay re-sends from the
    # outbox, so nothing is lost, and the process does not hoard events while a broker is down.
    "message.timeout.ms": int(os.environ.get("KAFKA_PRODUCER_MESSAGE_TIMEOUT_MS", "30000")),
}

KAFKA_CONSUMER_SESSION_TIMEOUT_MS = int(os.environ.get("KAFKA_CONSUMER_SESSION_TIMEOUT_MS", "10000"))
# The consumer group protocol: "consumer", Kafka 4's (KIP-848: the broker moves partitions
# one member at a time; a join or a crash pauses no one else), or "classic" (the client-side
# rebalance, for brokers before 4.0). Its session timeout is the broker's
# group.consumer.session.timeout.ms (infra/kafka/server.properties: 10 s, as above). Every
# member of one group must use the same protocol (KAFKA-21582): change it for all at once.
KAFKA_GROUP_PROTOCOL = os.environ.get("KAFKA_GROUP_PROTOCOL", "consumer")
if KAFKA_GROUP_PROTOCOL not in ("consumer", "classic"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"KAFKA_GROUP_PROTOCOL must be consumer or classic, not {KAFKA_GROUP_PROTOCOL!r}")

# The web process's producer: 0 sends each event at once.
# A web worker produces one event per request, so lingering never filled a batch at the
# rates one worker serves; it only added its wait, and more (queued requests) under load
# (bench.latency shows it). Messages still
# go together whenever they queue up while a request is in flight.
KAFKA_PUBLISHER_LINGER_MS = int(os.environ.get("KAFKA_PUBLISHER_LINGER_MS", "0"))

# Consumer batching: up to this many events per database transaction (one database
# commit each: bigger batches mean fewer fsyncs, up to where PostgreSQL's throughput
# levels off). The wait is how long to wait for a batch
# to fill once one event is in hand: 0 takes what has already arrived, so a lone event is
# applied at once and batches fill by themselves under load (librdkafka prefetches).
CONSUMER_BATCH_SIZE = int(os.environ.get("CONSUMER_BATCH_SIZE", "2000"))
CONSUMER_BATCH_WAIT_SECONDS = float(os.environ.get("CONSUMER_BATCH_WAIT_SECONDS", "0"))
# The opt-in fast layer (kafka_bridge/pipeline.py, catalog/fast/, orders/fast/): set-based
# SQL on PostgreSQL for the catalog consumer, the order consumer and order creation, and
# the catalog consumer pipelined in one process. Same effect as the default path (a
# property test holds them equal); turn it on to drain a backlog on PostgreSQL.
# `runconsumer --fast` / `--no-fast` overrides it for one command.
CONSUMER_FAST = env_bool("CONSUMER_FAST", False)
_all_postgresql = all(db["ENGINE"] == "django.db.backends.postgresql" for db in DATABASES.values())
if CONSUMER_FAST and not _all_postgresql:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "CONSUMER_FAST=true needs PostgreSQL for both databases (ORDERS_DATABASE_URL, CATALOG_DATABASE_URL)"
    )
# With the fast layer: auto (the default) pipelines `runconsumer` in one process, not the
# members of `runconsumer --processes N` (they already share the cores); true / false: always / never.
CONSUMER_PIPELINE = (
    None
    if os.environ.get("CONSUMER_PIPELINE", "auto").strip().lower() == "auto"
    else env_bool("CONSUMER_PIPELINE", False)
)
# Consumers commit their offsets to Kafka at most this often (and whenever they go quiet,
# lose partitions or stop), not after every batch: under light load a batch is a single
# event, and a commit per batch costs the broker one more request per order.
# After a crash, what was applied since the last
# commit is redelivered and skipped by the ledger: the interval bounds that replay.
CONSUMER_COMMIT_INTERVAL_SECONDS = float(os.environ.get("CONSUMER_COMMIT_INTERVAL_SECONDS", "1"))
# Consumers touch a file here on every turn of their loop (`runconsumer --check` reads it).
CONSUMER_HEARTBEAT_DIR = Path(os.environ.get("CONSUMER_HEARTBEAT_DIR", VAR_DIR / "heartbeats"))

# Outbox relay: events unsent this long after their order was committed are re-published
# (the web process normally sends them within milliseconds; the grace keeps the relay
# from racing it).
OUTBOX_RELAY_GRACE_SECONDS = float(os.environ.get("OUTBOX_RELAY_GRACE_SECONDS", "10"))
OUTBOX_RELAY_INTERVAL_SECONDS = float(os.environ.get("OUTBOX_RELAY_INTERVAL_SECONDS", "1"))
OUTBOX_RELAY_BATCH_SIZE = int(os.environ.get("OUTBOX_RELAY_BATCH_SIZE", "5000"))
# Who carries the outbox's events to Kafka (README, "Two relays"):
# polling  (default) `manage.py runrelay` reads the unsent rows; the web process also
#          publishes each one right after commit.
# debezium Kafka Connect with Debezium reads each insert from PostgreSQL's write-ahead log
#          (`make run DB=postgres RELAY=debezium`). The row is deleted in the transaction
#          that wrote it: the log keeps the insert, and the table stays empty.
OUTBOX_RELAY = os.environ.get("OUTBOX_RELAY", "polling").strip().lower()
if OUTBOX_RELAY not in {"polling", "debezium"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"OUTBOX_RELAY must be 'polling' or 'debezium', not {OUTBOX_RELAY!r}")
if OUTBOX_RELAY == "debezium" and not _all_postgresql:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "OUTBOX_RELAY=debezium reads PostgreSQL's write-ahead log: set ORDERS_DATABASE_URL and "
        "CATALOG_DATABASE_URL to PostgreSQL (make run DB=postgres RELAY=debezium does)"
    )
# Kafka Connect's REST API (bin/connect-server), where `manage.py connectors` registers
# Debezium's connectors and the live page reads their state.
CONNECT_URL = os.environ.get("CONNECT_URL", "http://127.0.0.1:8083").rstrip("/")
# Publish right after commit from the web process. Off: the relay alone publishes. Off by
# default under Debezium: it publishes every row anyway (README, "Two relays", measures both).
OUTBOX_PUBLISH_ON_COMMIT = env_bool("OUTBOX_PUBLISH_ON_COMMIT", OUTBOX_RELAY == "polling")

# Distributed tracing (kafka_bridge/tracing.py): off (default), zipkin (spans to ZIPKIN_URL;
# `make run TRACING=zipkin` starts one), or console (spans printed). Off costs nothing.
TRACING = os.environ.get("TRACING", "off").strip().lower()
if TRACING not in {"off", "zipkin", "console"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"TRACING must be 'off', 'zipkin' or 'console', not {TRACING!r}")
ZIPKIN_URL = os.environ.get("ZIPKIN_URL", "http://127.0.0.1:9411").rstrip("/")

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
# human (default): one readable line per event; json: one JSON object per line, with the
# fields a log pipeline can index (consumer lines about a message carry topic,
# partition, offset and orderId).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "human").strip().lower()
if LOG_FORMAT not in {"human", "json"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"LOG_FORMAT must be 'human' or 'json', not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "human": {"format": "%(asctime)s %(levelname)-7s [%(process)d] %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(process)d %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "process": "pid", "name": "logger"},
        },
    },
    # With tracing on, each line carries the trace_id and span_id of the span it was written in.
    "filters": {"trace_ids": {"()": "kafka_bridge.tracing.TraceIdFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["trace_ids"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
