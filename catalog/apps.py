from django.apps import AppConfig
from django.conf import settings


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog service"

    def ready(self) -> None:
        from catalog import signals  # noqa: F401  (connects the receivers)
        from catalog.consumers import OrderEventsHandler
        from catalog.metrics import LedgerCollector
        from kafka_bridge.registry import ConsumerSpec, TopicSpec, collector_register, consumer_register, topic_register

        topic_register(TopicSpec(name=lambda: settings.ORDER_RESULTS_TOPIC))  # each order's outcome
        # The products, compacted: the latest snapshot of each is kept for ever, so a new
        # order-service replica is built by reading the topic from the start.
        topic_register(TopicSpec(name=lambda: settings.PRODUCTS_TOPIC, config={"cleanup.policy": "compact"}))
        # `manage.py runconsumer`: order events in, stock changes and each order's result out.
        consumer_register(
            ConsumerSpec(
                name="runconsumer",
                group_id=lambda: settings.CATALOG_CONSUMER_GROUP,
                handlers=lambda: {settings.ORDER_EVENTS_TOPIC: OrderEventsHandler()},
                fast_handlers=fast_handlers,
            )
        )
        collector_register(LedgerCollector())


def fast_handlers() -> dict:
    """``runconsumer --fast``: the fast layer's handler (catalog/fast/), imported only when asked for."""
    from catalog.fast.consumers import FastOrderEventsHandler

    return {settings.ORDER_EVENTS_TOPIC: FastOrderEventsHandler()}
