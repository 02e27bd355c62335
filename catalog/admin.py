from django.contrib import admin

from catalog.models import OutboxEvent, Product, StockMovement
from orders.admin import OutboxEventAdminBase


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["product_id", "product_name", "stock", "unit_price", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["product_id", "product_name"]
    # Stock belongs to the sync: it changes through order events only.
    readonly_fields = ["stock", "created_at"]


@admin.register(StockMovement)
class StockMovementAdmin(admin.ModelAdmin):
    list_display = [
        "order_id",
        "kind",
        "outcome",
        "reason",
        "product_id",
        "delta",
        "stock_after",
        "topic",
        "partition",
        "offset",
        "applied_at",
    ]
    search_fields = ["order_id", "product_id"]
    list_filter = ["kind", "outcome", "reason"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(OutboxEvent, OutboxEventAdminBase)
