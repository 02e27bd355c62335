"""What Django answers outside the views: a URL that matches no route."""

from django.http import JsonResponse
from django.views.defaults import page_not_found

# Routes an API client calls: their 404 is JSON, as every other answer there.
API_PREFIXES = ("/api/", "/order-service/", "/catalog-service/")


def not_found(request, exception):
    if request.path.startswith(API_PREFIXES):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)
