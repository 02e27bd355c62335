"""The HTTP baseline: a bare DRF create-with-INSERT endpoint, served only by bench/http.py.

Same authentication (a token), same validation (the same serializer), same row, one
INSERT; no product check, no outbox row, no signal, no publishing. What our endpoint
costs on top of this is the price of "never lost" and of checking the product.
"""

from django.urls import path
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as product_urlpatterns
from orders.models import Order
from orders.serializers import OrderCreateSerializer, OrderSerializer


class BareOrderCreateApi(APIView):
    def post(self, request, user_id: str):
        body = OrderCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        order = Order(
            user_id=user_id,
            product_id=data["productId"],
            qty=data["qty"],
            unit_price=data["unitPrice"],
            total_price=data["qty"] * data["unitPrice"],
        )
        Order.objects.bulk_create([order])  # one INSERT, and no post_save: nothing published
        return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED)


urlpatterns = [*product_urlpatterns, path("bench/bare-orders/<str:user_id>", BareOrderCreateApi.as_view())]
