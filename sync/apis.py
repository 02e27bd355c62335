"""The API of what spans both services: an order's journey."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.selectors import order_list
from sync.journey import order_journey


class OrderJourneyApi(APIView):
    """`GET /api/orders/<orderId>/journey/`: every hop of the order — created, on the topic,
    decided by the catalog, status changed — with its time, the gap since the previous one,
    and the hop it is stuck at. Its owner's, or staff's; anyone else gets 404."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: None})
    def get(self, request, orderId):
        user = request.user
        orders = order_list(user_id=None if user.is_staff else user.get_username())
        return Response(order_journey(order=get_object_or_404(orders, order_id=orderId)).as_dict())
