import tempfile
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings

# The bridge's settings, and what they are when the host project does not set them.
# stocksync sets each one from the environment (config/settings.py says why each is so).
DEFAULTS = {
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
    "KAFKA_CLIENT_CONFIG": {},
    "KAFKA_PRODUCER_CONFIG": {
        "acks": "all",
        "enable.idempotence": True,
        "partitioner": "murmur2_random",  # the Java client's: a key lands where Kafka Connect puts it
        "linger.ms": 5,
        "message.timeout.ms": 30000,
    },
    "KAFKA_PUBLISHER_LINGER_MS": 0,
    "KAFKA_CONSUMER_SESSION_TIMEOUT_MS": 10000,
    "KAFKA_GROUP_PROTOCOL": "consumer",
    "DEAD_LETTER_SUFFIX": ".DLT",
    "DEAD_LETTERS_DEFAULT_TOPIC": None,  # None: `deadletters` needs --topic
    "CONSUMER_BATCH_SIZE": 2000,
    "CONSUMER_BATCH_WAIT_SECONDS": 0.0,
    "CONSUMER_COMMIT_INTERVAL_SECONDS": 1.0,
    "CONSUMER_FAST": False,  # the fast layer (kafka_bridge.pipeline) with the apps' fast handlers
    "CONSUMER_PIPELINE": None,  # None: auto (with the fast layer, pipelined unless the caller says otherwise)
    "CONSUMER_HEARTBEAT_DIR": Path(tempfile.gettempdir()) / "kafka-bridge-heartbeats",
    "OUTBOX_RELAY_GRACE_SECONDS": 10.0,
    "OUTBOX_RELAY_INTERVAL_SECONDS": 1.0,
    "OUTBOX_RELAY_BATCH_SIZE": 5000,
    "OUTBOX_PUBLISH_ON_COMMIT": True,
    "OUTBOX_RELAY": "polling",  # or "debezium": kafka_bridge.connect
    "CONNECT_URL": "http://127.0.0.1:8083",  # Kafka Connect's REST API, under Debezium
    "TOPIC_PARTITIONS": 3,
    "TOPIC_REPLICATION_FACTOR": 1,
    "TOPIC_MIN_INSYNC_REPLICAS": 1,
    "TRACING": "off",  # kafka_bridge.tracing: off, zipkin or console
    "ZIPKIN_URL": "http://127.0.0.1:9411",
}


class KafkaBridgeConfig(AppConfig):
    name = "kafka_bridge"
    verbose_name = "Kafka bridge"

    def ready(self) -> None:
        for name, value in DEFAULTS.items():
            if not hasattr(settings, name):
                setattr(settings, name, value)
        if settings.TRACING != "off":
            from kafka_bridge.tracing import tracing_start

            tracing_start()
