"""A product saved or deleted → its snapshot recorded in the catalog's outbox, published
after commit to the compacted products topic (the order service's replica)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from catalog.models import Product
from catalog.services import product_send_snapshot


@receiver(post_save, sender=Product, dispatch_uid="catalog.product_saved_to_outbox")
def product_saved_to_outbox(sender, instance: Product, raw: bool, using: str, **kwargs) -> None:
    # A stock change (the tutorial's consumer saves the product) is not the replica's business.
    if raw or not instance.replica_is_stale:
        return
    product_send_snapshot(product=instance, using=using)
    instance._replicated_as_loaded = instance.replicated_values()


@receiver(post_delete, sender=Product, dispatch_uid="catalog.product_deleted_to_outbox")
def product_deleted_to_outbox(sender, instance: Product, using: str, **kwargs) -> None:
    # Not a tombstone: the replica keeps the product as inactive, so an order for it is
    # refused as "not for sale" rather than "unknown".
    product_send_snapshot(product=instance, using=using, deleted=True)
