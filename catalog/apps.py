from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog service"

    def ready(self) -> None:
        from catalog import signals  # noqa: F401  (connects the receivers)
