from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Order service"

    def ready(self) -> None:
        from orders import signals  # noqa: F401  (connects the receivers)
