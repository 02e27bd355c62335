"""An order saved → its event recorded in the outbox and published after commit."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from kafka_bridge.events import ORDER_PLACED
from kafka_bridge.outbox import OutboxRow
from orders.models import Order
from orders.outbox import outbox_publish_order_event, outbox_send_order_event


@receiver(post_save, sender=Order, dispatch_uid="orders.order_placed_to_outbox")
def order_placed_to_outbox(
    sender, instance: Order, created: bool, raw: bool, using: str, outbox_row: OutboxRow | None = None, **kwargs
) -> None:
    # raw: loaddata replays stored rows; their events were published when they were made.
    if raw or not created:
        return
    if outbox_row is not None:  # written with the order, in one statement (orders.placement_sql)
        outbox_publish_order_event(row=outbox_row, using=using)
    else:
        outbox_send_order_event(order=instance, event_type=ORDER_PLACED, using=using)
