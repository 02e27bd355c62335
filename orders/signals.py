"""An order saved → its event recorded in the outbox and published after commit."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from contracts.events import ORDER_PLACED
from orders.models import Order
from orders.outbox import outbox_send_order_event


@receiver(post_save, sender=Order, dispatch_uid="orders.order_placed_to_outbox")
def order_placed_to_outbox(sender, instance: Order, created: bool, raw: bool, using: str, **kwargs) -> None:
    """A new order's event goes into the outbox in the order's own transaction; the
    producer gets it once that transaction commits (``kafka_bridge.outbox``)."""
    # raw: loaddata replays stored rows; their events were published when they were made.
    if raw or not created:
        return
    outbox_send_order_event(order=instance, event_type=ORDER_PLACED, using=using)
