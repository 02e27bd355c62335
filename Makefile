# The two commands: `make run` and `make test`. Everything they need is set up on the way.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
KAFKA_STAMP := .cache/kafka/libs/.fetched

.PHONY: help run cluster check test chaos bench lint kafka-start kafka-stop migrate clean

help:
	@echo "make run    - start Kafka, the web server (127.0.0.1:8000), relay and consumers on SQLite, each supervised (bin/stocksync)"
	@echo "             make run TRACING=zipkin: and Zipkin (127.0.0.1:9411), one trace per order across the services"
	@echo "             make run DB=postgres: on PostgreSQL (var/postgres, 127.0.0.1:5433) instead of SQLite"
	@echo "             make run DB=postgres RELAY=debezium: Debezium on Kafka Connect (127.0.0.1:8083) carries the outbox, not runrelay"
	@echo "make cluster - the same on three Kafka brokers (9092-9094), 6 partitions x 3 replicas, 3 consumers"
	@echo "make check  - lint, then every test that needs no broker and no PostgreSQL (SQLite; under 2 minutes): run it on every change"
	@echo "make test   - lint, then the whole suite against a real Kafka broker and PostgreSQL (what CI runs)"
	@echo "make chaos  - fault injection: orders under SIGKILLs, outages and redelivery; checks nothing lost or doubled"
	@echo "             make chaos RELAY=debezium: the same with Debezium on Kafka Connect as the relay"
	@echo "make bench  - the benchmarks (bench/): consumer, latency, HTTP, relay, the two relays; tables to paste into docs/BENCHMARKS.md"
	@echo "make kafka-start / kafka-stop - the local broker alone (127.0.0.1:9092)"
	@echo "make clean  - remove the venv, the fetched jars, the broker's data and var/"

$(VENV_STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	@# Put the project root on the venv's path, so `pytest` finds its plugin from anywhere.
	echo "$(CURDIR)" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/stocksync-root.pth"
	touch $@

$(KAFKA_STAMP): infra/kafka/pom.xml
	bin/kafka-fetch
	touch $@

run: $(VENV_STAMP) $(KAFKA_STAMP)
	bin/dev-run

cluster: $(VENV_STAMP) $(KAFKA_STAMP)
	bin/dev-cluster

# The fast tier: no broker, no PostgreSQL, no server (SQLite files in a temp folder; an
# address where no broker listens, so nothing reaches make run's).
check: lint
	env -u ORDERS_DATABASE_URL -u CATALOG_DATABASE_URL -u CI STOCKSYNC_TEST_SERVICES=0 \
		KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1 STOCKSYNC_VAR_DIR=$$(mktemp -d) \
		$(PY) -m pytest -m "not integration and not browser and not postgres" -q -p no:cacheprovider

test: lint $(KAFKA_STAMP)
	$(PY) -m pytest

# The fault-injection suite at full length (a shorter run is part of `make test`).
chaos: $(VENV_STAMP) $(KAFKA_STAMP)
	$(PY) -m chaos.run $(if $(RELAY),--relay $(RELAY)) $(CHAOS_ARGS)

# Every benchmark at full size, the default path and the fast layer side by side; the
# figures go to docs/BENCHMARKS.md by hand, charts to docs/img/.
bench: $(VENV_STAMP) $(KAFKA_STAMP)
	$(PY) -m bench.ceiling
	$(PY) -m bench.consumer --baseline-events 1000
	$(PY) -m bench.http
	CONSUMER_FAST=false $(PY) -m bench.latency
	CONSUMER_FAST=true $(PY) -m bench.latency
	$(PY) -m bench.relay
	$(PY) -m bench.relays
	$(PY) -m bench.ledger_probe

lint: $(VENV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache  # the layering: .importlinter
	$(PY) manage.py contracts --check  # each topic's compatibility rule: contracts/topics.py

kafka-start: $(KAFKA_STAMP)
	bin/kafka-server start

kafka-stop:
	bin/kafka-server stop

migrate: $(VENV_STAMP)
	$(PY) manage.py migrate
	$(PY) manage.py migrate --database=catalog

clean:
	-bin/kafka-server stop
	rm -rf $(VENV) .cache var
