from django.contrib import admin, messages

from kafka_bridge.admin import OutboxEventAdmin, ReadOnlyAdmin
from orders.models import Order, OutboxEvent, ProductReplica
from orders.services import OrderConflict, order_cancel


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "order_id",
        "user_id",
        "product_id",
        "qty",
        "unit_price",
        "total_price",
        "status",
        "reason",
        "created_at",
    ]
    list_filter = ["status", "reason"]
    search_fields = ["order_id", "user_id", "product_id"]
    date_hierarchy = "created_at"
    actions = ["cancel_orders"]

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Cancel selected orders (gives their stock back)")
    def cancel_orders(self, request, queryset):
        cancelled, refused = 0, []
        for order in queryset:
            try:
                order_cancel(order=order)
                cancelled += 1
            except OrderConflict as exc:
                refused.append(str(exc))
        if cancelled:
            self.message_user(request, f"{cancelled} order(s) cancelled.", messages.SUCCESS)
        for reason in refused:
            self.message_user(request, reason, messages.WARNING)


@admin.register(ProductReplica)
class ProductReplicaAdmin(ReadOnlyAdmin):
    """The catalog's products as the order service last heard of them."""

    list_display = ["product_id", "product_name", "unit_price", "active", "version", "replicated_at"]
    search_fields = ["product_id", "product_name"]


admin.site.register(OutboxEvent, OutboxEventAdmin)
