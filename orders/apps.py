from django.apps import AppConfig
from django.conf import settings


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Order service"

    def ready(self) -> None:
        from kafka_bridge.registry import ConsumerSpec, TopicSpec, collector_register, consumer_register, topic_register
        from orders import signals  # noqa: F401  (connects the receivers)
        from orders.consumers import OrderResultsHandler, ProductSnapshotsHandler
        from orders.metrics import OrdersCollector

        topic_register(TopicSpec(name=lambda: settings.ORDER_EVENTS_TOPIC))  # placed and cancelled orders
        # `manage.py runorderconsumer`: the catalog's results (order statuses) and its
        # products (the replica). The products topic is compacted: read from the
        # beginning, it is the whole catalog.
        consumer_register(
            ConsumerSpec(
                name="runorderconsumer",
                group_id=lambda: settings.ORDERS_CONSUMER_GROUP,
                handlers=lambda: {
                    settings.ORDER_RESULTS_TOPIC: OrderResultsHandler(),
                    settings.PRODUCTS_TOPIC: ProductSnapshotsHandler(),
                },
                fast_handlers=fast_handlers,
                offset_reset="earliest",
            )
        )
        collector_register(OrdersCollector())


def fast_handlers() -> dict:
    """``runorderconsumer --fast``: the fast layer's results handler (orders/fast/)."""
    from orders.consumers import ProductSnapshotsHandler
    from orders.fast.consumers import FastOrderResultsHandler

    return {settings.ORDER_RESULTS_TOPIC: FastOrderResultsHandler(), settings.PRODUCTS_TOPIC: ProductSnapshotsHandler()}
