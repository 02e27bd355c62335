"""Which database each app lives in.

The order service and the catalog service each own a database, as two microservices
would: ``default`` holds orders (and Django's auth, admin and sessions), ``catalog``
holds the catalog. Nothing relates rows across the two; Kafka carries the sync.
"""

CATALOG_DB = "catalog"
CATALOG_APPS = frozenset({"catalog"})


class ServiceRouter:
    def _db_for(self, app_label: str) -> str:
        return CATALOG_DB if app_label in CATALOG_APPS else "default"

    def db_for_read(self, model, **hints):
        return self._db_for(model._meta.app_label)

    def db_for_write(self, model, **hints):
        return self._db_for(model._meta.app_label)

    def allow_relation(self, obj1, obj2, **hints):
        # A foreign key across the two services' databases cannot be enforced.
        return self._db_for(obj1._meta.app_label) == self._db_for(obj2._meta.app_label)

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == self._db_for(app_label)
