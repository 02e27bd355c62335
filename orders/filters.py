"""Filters of the orders list (``/api/orders/?productId=…&status=…&createdAfter=…``)."""

import django_filters

from orders.models import Order


class OrderFilter(django_filters.FilterSet):
    userId = django_filters.CharFilter(field_name="user_id", help_text="staff only see others' orders")
    productId = django_filters.CharFilter(field_name="product_id")
    status = django_filters.ChoiceFilter(choices=Order.Status.choices)
    createdAfter = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    createdBefore = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = []
