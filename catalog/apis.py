"""The catalog service's HTTP API: read-only; stock changes only through Kafka."""

from rest_framework import viewsets
from rest_framework.generics import ListAPIView

from catalog.selectors import product_list
from catalog.serializers import ProductSerializer


class CatalogListApi(ListAPIView):
    """`/catalog-service/catalogs`: the Spring Cloud course's route."""

    serializer_class = ProductSerializer

    def get_queryset(self):
        return product_list()


class ProductViewSet(viewsets.ReadOnlyModelViewSet):
    """`/api/catalog/products/` and `/api/catalog/products/<productId>/`."""

    serializer_class = ProductSerializer
    lookup_field = "product_id"
    lookup_url_kwarg = "productId"
    lookup_value_regex = "[^/]{1,64}"

    def get_queryset(self):
        return product_list()
