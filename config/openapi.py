"""The statuses every operation can return because of the layers around the views, added to
the OpenAPI schema in one place (a drf-spectacular postprocessing hook). A view documents
only its own: ``orders/apis.py``'s 409 and 422, for example."""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "description": 'Why the request was refused: {"detail": "…"}, or a list of messages per field.',
    "additionalProperties": True,
}


def document_layer_statuses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            for code, description in _layer_statuses(method, operation).items():
                operation["responses"].setdefault(
                    code, {"description": description, "content": {"application/json": {"schema": ERROR}}}
                )
    return result


def _layer_statuses(method: str, operation: dict[str, Any]) -> dict[str, str]:
    parameters = operation.get("parameters", [])
    statuses = {}
    if any(p["in"] == "query" for p in parameters) or "requestBody" in operation:
        statuses["400"] = "a malformed parameter or body: the message names it"
    # A token that is not valid is refused even where no login is needed (TokenAuthentication).
    statuses["401"] = "the credentials are not valid (or, where a login is needed, missing)"
    if {} not in operation.get("security", [{}]):
        statuses["403"] = "not yours (another user's orders or route), or a session without its CSRF token"
    if any(p["in"] == "path" for p in parameters):
        statuses["404"] = "no such resource (or not yours to see)"
    elif any(p["name"] == "page" for p in parameters):
        statuses["404"] = "a page past the last one"
    statuses["429"] = "too many requests: see Retry-After"
    statuses["503"] = "a database is unavailable: see Retry-After"
    return statuses
