from rest_framework import serializers

from catalog.models import Product


class ProductSerializer(serializers.ModelSerializer):
    productId = serializers.CharField(source="product_id")
    productName = serializers.CharField(source="product_name")
    unitPrice = serializers.IntegerField(source="unit_price")
    createdAt = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Product
        fields = ["productId", "productName", "stock", "unitPrice", "createdAt"]
        read_only_fields = fields
