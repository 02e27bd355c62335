"""The pages of what spans both services: the home page (what is running, where to go),
the labs' text, the admin's Sync page (is the sync keeping up?) and the live page (the flow
as a picture, updating itself). Sync and live are staff only, through the admin's login.
Their data: ``kafka_bridge.sync_status`` and ``sync.live``."""

from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache

from kafka_bridge.heartbeat import last_beat_age
from kafka_bridge.registry import consumers_registered
from kafka_bridge.sync_status import sync_status
from sync.live import live_snapshot
from sync.readiness import readiness

# A consumer that turned its loop this recently is running.
CONSUMER_ALIVE_SECONDS = 30.0


@never_cache
def home(request):
    """``GET /``: what is running, and links to the live page, the API, the admin and the labs."""
    running = [{"name": "web server", "state": "answering (this page)", "ok": True}]
    for name, problem in readiness().items():
        running.append({"name": name.replace(":", " "), "state": problem, "ok": problem == "ok"})
    for spec in consumers_registered():
        age = last_beat_age(f"{spec.name}-{spec.group_id()}")
        alive = age is not None and age < CONSUMER_ALIVE_SECONDS
        state = f"running (last turn {age:.0f} s ago)" if alive else "not running"
        running.append({"name": f"manage.py {spec.name}", "state": state, "ok": alive})
    path = "fast layer (CONSUMER_FAST=true)" if settings.CONSUMER_FAST else "default (one batch at a time, the ORM)"
    return TemplateResponse(request, "stocksync/home.html", {"running": running, "path": path})


def labs(request):
    """The guided labs' text (docs/labs.md, or docs/labs.ko.md with ``?lang=ko``), as it is in the repository."""
    name = "labs.ko.md" if request.GET.get("lang") == "ko" else "labs.md"
    text = (settings.BASE_DIR / "docs" / name).read_text(encoding="utf-8")
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


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
