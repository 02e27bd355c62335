from django.conf import settings
from django.contrib import admin
from django.utils.html import format_html, format_html_join

from catalog.models import OutboxEvent, Product, StockMovement
from kafka_bridge.admin import OutboxEventAdmin, ReadOnlyAdmin


class StockLevelFilter(admin.SimpleListFilter):
    title = "stock level"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("out", "out of stock"), ("low", f"low (< {settings.LOW_STOCK_THRESHOLD})"), ("ok", "in stock")]

    def queryset(self, request, queryset):
        low = settings.LOW_STOCK_THRESHOLD
        if self.value() == "out":
            return queryset.filter(stock=0)
        if self.value() == "low":
            return queryset.filter(stock__gt=0, stock__lt=low)
        if self.value() == "ok":
            return queryset.filter(stock__gte=low)
        return queryset


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    """The stock inspector: stock at a glance, and each product's ledger on its page."""

    list_display = ["product_id", "product_name", "stock", "stock_level", "unit_price", "active", "updated_at"]
    list_filter = [StockLevelFilter, "active"]
    search_fields = ["product_id", "product_name"]
    # Stock belongs to the sync: it changes through order events only.
    readonly_fields = ["stock", "created_at", "updated_at", "recent_movements"]

    @admin.display(description="level")
    def stock_level(self, product):
        if product.stock == 0:
            return format_html('<strong style="color:#ba2121">out of stock</strong>')
        if product.stock < settings.LOW_STOCK_THRESHOLD:
            return format_html('<strong style="color:#c77c00">low</strong>')
        return "ok"

    @admin.display(description="recent stock movements (the ledger)")
    def recent_movements(self, product):
        movements = StockMovement.objects.filter(product_id=product.product_id).order_by("-id")[:20]
        if not movements:
            return "none yet"
        # format_html_join escapes its arguments into strings: format numbers and dates first.
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    m.order_id,
                    m.kind,
                    f"{m.outcome} {m.reason}".strip(),
                    f"{m.delta:+d}",
                    "—" if m.stock_after is None else str(m.stock_after),
                    f"{m.applied_at:%Y-%m-%d %H:%M:%S}",
                    f"{m.topic}[{m.partition}]@{m.offset}",
                )
                for m in movements
            ),
        )
        return format_html(
            '<table id="ledger"><thead><tr><th>order</th><th>kind</th><th>outcome</th><th>delta</th>'
            "<th>stock after</th><th>when</th><th>from</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
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
    date_hierarchy = "applied_at"


admin.site.register(OutboxEvent, OutboxEventAdmin)
