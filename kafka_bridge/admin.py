from django.contrib import admin

admin.site.site_header = "stocksync admin"
admin.site.site_title = "stocksync"
# The index with a link to the Sync page (kafka_bridge/views.py) above the apps.
admin.site.index_template = "admin/stocksync/index.html"


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows the sync owns (the ledger, the replica): look, never touch."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OutboxEventAdmin(admin.ModelAdmin):
    """Every service's outbox: what was published, what is still waiting, and why."""

    list_display = ["id", "topic", "key", "created_at", "sent_at", "attempts"]
    list_filter = [("sent_at", admin.EmptyFieldListFilter), "topic"]
    readonly_fields = ["topic", "key", "payload_text", "created_at", "sent_at", "attempts", "last_error"]
    exclude = ["payload"]

    @admin.display(description="payload")
    def payload_text(self, obj):
        return bytes(obj.payload).decode(errors="replace")

    def has_add_permission(self, request):
        return False
