"""The API of what spans both services: an order's journey, and its trace."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.selectors import order_list
from sync.journey import order_journey
from sync.traces import order_trace


class OrderJourneyApi(APIView):
    """`GET /api/orders/<orderId>/journey/`: every hop of the order — created, on the topic,
    decided by the catalog, status changed — with its time, the gap since the previous one,
    and the hop it is stuck at; and its trace id, with its spans from Zipkin when tracing
    runs. Its owner's, or staff's; anyone else gets 404."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: None})
    def get(self, request, orderId):
        user = request.user
        orders = order_list(user_id=None if user.is_staff else user.get_username())
        journey = order_journey(order=get_object_or_404(orders, order_id=orderId))
        return Response({**journey.as_dict(), "trace": order_trace(journey.trace_id)})
