"""Filters of the orders list (``/api/orders/?productId=…&status=…&createdAfter=…``)."""

from datetime import UTC

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

from orders.models import Order


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 moment, handed to the database in UTC.

    Any offset ISO allows is accepted (``-20:55`` parses), but PostgreSQL refuses offsets
    beyond ±15:59; in UTC the database never sees one.
    """

    def to_python(self, value):
        if value == "":  # sent but empty: not "no filter", a mistake the client should hear about
            raise forms.ValidationError("Enter a moment, or leave the parameter out.", code="required")
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Enter a moment between the years 1 and 9999.", code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class OrderFilter(django_filters.FilterSet):
    userId = django_filters.CharFilter(field_name="user_id", help_text="staff only see others' orders")
    productId = django_filters.CharFilter(field_name="product_id")
    status = django_filters.ChoiceFilter(choices=Order.Status.choices)
    createdAfter = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    createdBefore = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = []
