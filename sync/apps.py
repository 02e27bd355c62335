from django.apps import AppConfig


class SyncConfig(AppConfig):
    """What reads both services (orders and catalog never import each other; this may)."""

    name = "sync"
    verbose_name = "Sync of the two services"
