from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from catalog.apis import CatalogListApi, ProductViewSet
from config import health
from config.throttling import throttle_logins
from kafka_bridge.metrics import metrics_view
from orders.apis import OrderViewSet, UserOrdersApi
from sync import readiness
from sync.apis import OrderJourneyApi
from sync.asyncapi import asyncapi_document, asyncapi_page
from sync.views import home, labs, live_data, live_page, sync_page

router = DefaultRouter()
router.register("orders", OrderViewSet, basename="order")
router.register("catalog/products", ProductViewSet, basename="product")

urlpatterns = [
    path("", home, name="home"),  # what is running, and where to go
    path("labs/", labs, name="labs"),
    # The Spring Cloud course's routes, kept as they were.
    path("order-service/<str:user_id>/orders", UserOrdersApi.as_view(), name="user-orders"),
    path("catalog-service/catalogs", CatalogListApi.as_view(), name="catalogs"),
    # The same resources, DRF style; and an order's path through both services.
    path("api/orders/<uuid:orderId>/journey/", OrderJourneyApi.as_view(), name="order-journey"),
    path("api/", include(router.urls)),
    # Both login pages, rate-limited per IP and per username (config/throttling.py);
    # listed before the includes whose login views they wrap.
    path(
        "api-auth/login/",
        throttle_logins(LoginView.as_view(template_name="rest_framework/login.html")),
        name="api-login",
    ),
    path("admin/login/", throttle_logins(admin.site.login), name="admin-login"),
    path("api-auth/", include("rest_framework.urls")),  # log in / out of the browsable API
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    # The Kafka side's contract (contracts/): AsyncAPI 3.0, and the same as a page.
    path("api/asyncapi/", asyncapi_document, name="asyncapi"),
    path("api/asyncapi/page/", asyncapi_page, name="asyncapi-page"),
    path("admin/sync/", admin.site.admin_view(sync_page), name="admin-sync"),
    # The flow, live: a page that redraws itself each second from live/data (staff).
    path("live/", admin.site.admin_view(live_page), name="live"),
    path("live/data", admin.site.admin_view(live_data), name="live-data"),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", readiness.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
]
