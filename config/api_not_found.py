"""A URL under the API's routes that matches no route answers JSON, as every other answer
there does: ``{"detail": "Not found."}`` with 404, not Django's HTML page (with DEBUG on,
its technical page; off, its plain one)."""

from django.http import JsonResponse

# Routes an API client calls.
API_PREFIXES = ("/api/", "/order-service/", "/catalog-service/")


class ApiNotFoundMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and request.path.startswith(API_PREFIXES)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return JsonResponse({"detail": "Not found."}, status=404)
        return response
