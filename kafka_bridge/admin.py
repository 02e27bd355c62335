"""Admin classes any service may use for the bridge's rows (outboxes) and for rows the sync owns."""

from django.contrib import admin


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
