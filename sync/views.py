"""The pages of what spans both services: the admin's Sync page (is the sync keeping up?)
and the live page (the flow as a picture, updating itself). Staff only, through the
admin's login. Their data: ``kafka_bridge.sync_status`` and ``sync.live``."""

from django.contrib import admin
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache

from kafka_bridge.sync_status import sync_status
from sync.live import live_snapshot


def sync_page(request):
    context = {**admin.site.each_context(request), "title": "Sync", "status": sync_status()}
    return TemplateResponse(request, "admin/stocksync/sync.html", context)


def live_page(request):
    """The page draws itself from ``live_data``, every second, without a reload."""
    context = {**admin.site.each_context(request), "title": "Live", "order": request.GET.get("order", "")}
    return TemplateResponse(request, "admin/stocksync/live.html", context)


@never_cache
def live_data(request):
    return JsonResponse(live_snapshot())
