"""The order service's HTTP API: validate, call a service, serialise. Nothing else."""

from django.conf import settings
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.pagination import StandardPagination
from config.throttling import OrderPlacementThrottle
from contracts.events import MAX_ID_LENGTH
from orders.filters import OrderFilter
from orders.idempotency import (
    IdempotencyKeyInFlight,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    idempotency_key_parse,
    order_place_idempotent,
    request_fingerprint,
)
from orders.models import Order
from orders.selectors import order_list, order_wait_final
from orders.serializers import OrderCreateSerializer, OrderCreateWithUserSerializer, OrderSerializer
from orders.services import OrderConflict, OrderRefused, ReplicaLoading, order_cancel, order_create


def _create(request, data: dict, user_id: str) -> Response:
    """Place the order; with an ``Idempotency-Key`` header, at most once per key. With
    ``CONSUMER_FAST`` the fast layer's versions (orders/fast/), which have the same effect."""
    order = {"user_id": user_id, "product_id": data["productId"], "qty": data["qty"], "unit_price": data["unitPrice"]}
    create = order_create
    if settings.CONSUMER_FAST:
        from orders.fast.services import order_create_fast as create

    def place():
        placed = create(**order)
        return placed, _body(placed)

    try:
        raw_key = request.headers.get("Idempotency-Key")
        if raw_key is None:
            return Response(place()[1], status=status.HTTP_201_CREATED)
        key = idempotency_key_parse(raw_key)
        fingerprint = request_fingerprint({**data, "userId": user_id})
        client = request.user.get_username()
        if settings.CONSUMER_FAST:
            from orders.fast.idempotency import order_place_idempotent_fast

            placed = order_place_idempotent_fast(
                client=client, key=key, fingerprint=fingerprint, **order, serialize=_body, place=place
            )
        else:
            placed = order_place_idempotent(client=client, key=key, fingerprint=fingerprint, place=place)
    except OrderRefused as exc:
        raise serializers.ValidationError(exc.errors) from None
    except ReplicaLoading as exc:
        raise StillLoading(str(exc), retry_after=exc.retry_after_seconds) from None
    except IdempotencyKeyInvalid as exc:
        raise serializers.ValidationError({"Idempotency-Key": [str(exc)]}) from None
    except IdempotencyKeyReused:
        raise KeyReused() from None
    except IdempotencyKeyInFlight:
        raise Conflict("A request with this Idempotency-Key is still being processed; retry shortly.") from None
    headers = {"Idempotent-Replayed": "true"} if placed.replayed else {}
    return Response(placed.body, status=status.HTTP_201_CREATED, headers=headers)


def _body(order: Order) -> dict:
    """An order as a 201 answers it."""
    return OrderSerializer(order).data


class StillLoading(exceptions.APIException):
    """503 with ``Retry-After``: the service has just started and cannot answer yet."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "still_loading"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.wait = retry_after  # DRF's exception handler sends it as Retry-After


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was already used with a different request; use a new key for a new order."


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Optional, at most 255 printable ASCII characters, chosen by the client (a UUID is fine). "
        "The same key with the same body again returns the first 201 response (header "
        "`Idempotent-Replayed: true`) and places nothing new; with another body: 422; while the "
        "first request is still in progress: 409. Keys are kept 24 hours (IDEMPOTENCY_KEY_TTL_HOURS)."
    ),
)
PLACEMENT_RESPONSES = {
    201: OrderSerializer,
    400: OpenApiResponse(description="invalid body or Idempotency-Key, unknown product, wrong price"),
    409: OpenApiResponse(description="a request with this Idempotency-Key is still in progress"),
    422: OpenApiResponse(description="this Idempotency-Key was used with a different request"),
    429: OpenApiResponse(description="too many orders: see Retry-After"),
    503: OpenApiResponse(description="the orders database is unavailable: retry with the same key"),
}


WAIT = OpenApiParameter(
    "wait",
    {"type": "number", "minimum": 0, "maximum": settings.ORDER_WAIT_MAX_SECONDS},
    description="wait up to this many seconds for the order to leave PENDING (CONFIRMED, REJECTED, CANCELLED)",
)


ORDER_EXAMPLE = OpenApiExample(
    "the tutorial's order", value={"productId": "CATALOG-001", "qty": 10, "unitPrice": 1000}, request_only=True
)


class IsThatUserOrStaff(BasePermission):
    """The course's route names its user in the path: only that user (or staff) may use it."""

    message = "You may only see and place your own orders."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and (request.user.is_staff or request.user.get_username() == view.kwargs["user_id"]))


class UserOrdersApi(APIView):
    """`/order-service/<userId>/orders`: the Spring Cloud course's route. POST places an order, GET lists them.

    `userId` is the logged-in user's username (staff may use any)."""

    serializer_class = OrderCreateSerializer  # the browsable API's form
    permission_classes = [IsAuthenticated, IsThatUserOrStaff]

    @extend_schema(responses=OrderSerializer(many=True))
    def get(self, request, user_id: str):
        return Response(OrderSerializer(order_list(user_id=user_id), many=True).data)

    def get_throttles(self):
        placing = self.request.method == "POST"
        return [*super().get_throttles(), OrderPlacementThrottle()] if placing else super().get_throttles()

    @extend_schema(
        request=OrderCreateSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses=PLACEMENT_RESPONSES,
        examples=[ORDER_EXAMPLE],
    )
    def post(self, request, user_id: str):
        if not user_id.strip() or len(user_id) > MAX_ID_LENGTH:
            raise serializers.ValidationError({"userId": [f"Must be 1 to {MAX_ID_LENGTH} characters."]})
        body = OrderCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _create(request, body.validated_data, user_id.strip())


class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`/api/orders/`: your orders (staff: everyone's), newest first, paginated and filterable;
    POST places one for you. `/api/orders/<orderId>/`: one of them."""

    serializer_class = OrderSerializer
    lookup_field = "order_id"
    lookup_url_kwarg = "orderId"
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"
    pagination_class = StandardPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = OrderFilter

    def get_queryset(self):
        user = self.request.user
        return order_list(user_id=None if user.is_staff else user.get_username())

    def get_serializer_class(self):
        return OrderCreateWithUserSerializer if self.action == "create" else OrderSerializer

    def get_throttles(self):
        placing = self.action == "create"
        return [*super().get_throttles(), OrderPlacementThrottle()] if placing else super().get_throttles()

    @extend_schema(request=OrderCreateWithUserSerializer, parameters=[IDEMPOTENCY_KEY], responses=PLACEMENT_RESPONSES)
    def create(self, request):
        body = OrderCreateWithUserSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user_id = body.validated_data.get("userId") or request.user.get_username()
        if user_id != request.user.get_username() and not request.user.is_staff:
            raise exceptions.PermissionDenied("You may only place orders for yourself.")
        return _create(request, body.validated_data, user_id)

    @extend_schema(parameters=[WAIT])
    def retrieve(self, request, orderId: str, format=None):  # format: `.json` in the URL
        order = self.get_object()
        wait = request.query_params.get("wait")
        if wait is not None:
            order = order_wait_final(order=order, timeout=_wait_seconds(wait))
        return Response(OrderSerializer(order).data)

    @extend_schema(request=None, responses={200: OrderSerializer, 409: None})
    @action(detail=True, methods=["post"])
    def cancel(self, request, orderId: str, format=None):
        """Cancel the order; the catalog gives its stock back. 409 if it is rejected or already cancelled."""
        try:
            order = order_cancel(order=self.get_object())
        except OrderConflict as exc:
            raise Conflict(str(exc)) from None
        return Response(OrderSerializer(order).data)


def _wait_seconds(raw: str) -> float:
    limit = settings.ORDER_WAIT_MAX_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= limit:  # also refuses nan and inf
        raise serializers.ValidationError({"wait": [f"A number of seconds from 0 to {limit:g} is required."]})
    return seconds
