from django.contrib import admin

from orders.models import Order, OutboxEvent


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["order_id", "user_id", "product_id", "qty", "unit_price", "total_price", "created_at"]
    search_fields = ["order_id", "user_id", "product_id"]
    date_hierarchy = "created_at"

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    list_display = ["id", "topic", "key", "created_at", "sent_at", "attempts"]
    list_filter = [("sent_at", admin.EmptyFieldListFilter)]
    readonly_fields = ["topic", "key", "payload_text", "created_at", "sent_at", "attempts", "last_error"]
    exclude = ["payload"]

    @admin.display(description="payload")
    def payload_text(self, obj):
        return bytes(obj.payload).decode(errors="replace")

    def has_add_permission(self, request):
        return False
