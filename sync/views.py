"""The admin's Sync page: is the sync keeping up? (data: ``kafka_bridge.sync_status``)."""

from django.contrib import admin
from django.template.response import TemplateResponse

from kafka_bridge.sync_status import sync_status


def sync_page(request):
    context = {**admin.site.each_context(request), "title": "Sync", "status": sync_status()}
    return TemplateResponse(request, "admin/stocksync/sync.html", context)
