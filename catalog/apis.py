"""The catalog service's HTTP API: read-only; stock changes only through Kafka."""

from rest_framework import viewsets
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny

from catalog.selectors import product_list
from catalog.serializers import ProductSerializer
from config.pagination import StandardPagination


class CatalogListApi(ListAPIView):
    """`/catalog-service/catalogs`: the Spring Cloud course's route. Public."""

    serializer_class = ProductSerializer
    permission_classes = [AllowAny]

    def get_queryset(self):
        return product_list()


class ProductViewSet(viewsets.ReadOnlyModelViewSet):
    """`/api/catalog/products/` (paginated) and `/api/catalog/products/<productId>/`. Public."""

    serializer_class = ProductSerializer
    permission_classes = [AllowAny]
    pagination_class = StandardPagination
    lookup_field = "product_id"
    lookup_url_kwarg = "productId"
    lookup_value_regex = "[^/]{1,64}"

    def get_queryset(self):
        return product_list()
