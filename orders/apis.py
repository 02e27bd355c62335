"""The order service's HTTP API: validate, call a service, serialise. Nothing else."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from kafka_bridge.events import MAX_ID_LENGTH
from orders.selectors import order_list
from orders.serializers import OrderCreateSerializer, OrderCreateWithUserSerializer, OrderSerializer
from orders.services import order_create


def _create(data: dict, user_id: str) -> Response:
    order = order_create(user_id=user_id, product_id=data["productId"], qty=data["qty"], unit_price=data["unitPrice"])
    return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED)


ORDER_EXAMPLE = OpenApiExample(
    "the tutorial's order", value={"productId": "CATALOG-001", "qty": 10, "unitPrice": 1000}, request_only=True
)


class UserOrdersApi(APIView):
    """`/order-service/<userId>/orders`: the Spring Cloud course's route. POST places an order, GET lists them."""

    serializer_class = OrderCreateSerializer  # the browsable API's form

    @extend_schema(responses=OrderSerializer(many=True))
    def get(self, request, user_id: str):
        return Response(OrderSerializer(order_list(user_id=user_id), many=True).data)

    @extend_schema(request=OrderCreateSerializer, responses={201: OrderSerializer}, examples=[ORDER_EXAMPLE])
    def post(self, request, user_id: str):
        if not user_id.strip() or len(user_id) > MAX_ID_LENGTH:
            raise serializers.ValidationError({"userId": [f"Must be 1 to {MAX_ID_LENGTH} characters."]})
        body = OrderCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _create(body.validated_data, user_id.strip())


class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`/api/orders/`: list and place orders; `/api/orders/<orderId>/`: one order."""

    serializer_class = OrderSerializer
    lookup_field = "order_id"
    lookup_url_kwarg = "orderId"
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"

    def get_queryset(self):
        return order_list(user_id=self.request.query_params.get("userId"))

    def get_serializer_class(self):
        return OrderCreateWithUserSerializer if self.action == "create" else OrderSerializer

    @extend_schema(request=OrderCreateWithUserSerializer, responses={201: OrderSerializer})
    def create(self, request):
        body = OrderCreateWithUserSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _create(body.validated_data, body.validated_data["userId"])
