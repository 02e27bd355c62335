import re

from rest_framework import serializers

from contracts.events import MAX_ID_LENGTH, MAX_MONEY, MAX_QTY
from orders.models import Order


class StrictIntegerField(serializers.IntegerField):
    """An integer, or a string of digits (HTML forms); never 2.5, "2.0" or true."""

    default_error_messages = {"invalid": "A whole number is required."}
    _digits = re.compile(r"^-?\d+$")

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        if isinstance(data, str) and not self._digits.match(data.strip()):
            self.fail("invalid")
        return super().to_internal_value(data)


class OrderCreateSerializer(serializers.Serializer):
    productId = serializers.CharField(max_length=MAX_ID_LENGTH, trim_whitespace=True)
    qty = StrictIntegerField(min_value=1, max_value=MAX_QTY)
    unitPrice = StrictIntegerField(min_value=0, max_value=MAX_MONEY)

    def validate(self, attrs):
        if attrs["qty"] * attrs["unitPrice"] > MAX_MONEY:
            raise serializers.ValidationError({"qty": ["qty × unitPrice is too large."]})
        return attrs


class OrderCreateWithUserSerializer(OrderCreateSerializer):
    # Optional: the logged-in user's username by default; only staff may name another.
    userId = serializers.CharField(max_length=MAX_ID_LENGTH, trim_whitespace=True, required=False)


class OrderSerializer(serializers.ModelSerializer):
    orderId = serializers.UUIDField(source="order_id", read_only=True)
    userId = serializers.CharField(source="user_id", read_only=True)
    productId = serializers.CharField(source="product_id", read_only=True)
    unitPrice = serializers.IntegerField(source="unit_price", read_only=True)
    totalPrice = serializers.IntegerField(source="total_price", read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    statusChangedAt = serializers.DateTimeField(source="status_changed_at", read_only=True, allow_null=True)

    class Meta:
        model = Order
        fields = [
            "orderId",
            "userId",
            "productId",
            "qty",
            "unitPrice",
            "totalPrice",
            "status",
            "reason",
            "createdAt",
            "statusChangedAt",
        ]
        read_only_fields = fields
