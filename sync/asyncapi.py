"""``/api/asyncapi/``: the Kafka side's contract (``contracts.asyncapi``), as JSON or YAML,
and ``/api/asyncapi/page/``: the same drawn as a page, with no script and nothing fetched
from elsewhere (it works offline)."""

import json

import yaml
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template.response import TemplateResponse

from contracts.asyncapi import document


def asyncapi_document(request):
    """JSON by default; YAML with ``?format=yaml`` or ``Accept: application/yaml``."""
    doc = document(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    wanted = request.GET.get("format", "")
    if wanted not in ("", "json", "yaml"):
        return JsonResponse({"format": [f"must be json or yaml, got {wanted!r}"]}, status=400)
    if wanted == "yaml" or (not wanted and "yaml" in request.headers.get("Accept", "")):
        body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
        return HttpResponse(body, content_type="application/yaml; charset=utf-8")
    return JsonResponse(doc, json_dumps_params={"indent": 2, "ensure_ascii": False})


def asyncapi_page(request):
    doc = document(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    components = doc["components"]
    channels = []
    for channel_id, channel in doc["channels"].items():
        operations = [op for op in doc["operations"].values() if op["channel"]["$ref"] == f"#/channels/{channel_id}"]
        messages = []
        for ref in channel["messages"].values():
            message = components["messages"][ref["$ref"].rsplit("/", 1)[1]]
            payload_ref = message["payload"].get("$ref", "")
            schema = components["schemas"].get(payload_ref.rsplit("/", 1)[-1]) if payload_ref else None
            messages.append(
                {
                    "message": message,
                    "version": f"{schema['title']} v{schema['x-version']}" if schema else "",
                    "fields": _fields(schema) if schema else [],
                    "headers": _fields(message["headers"]) if "headers" in message else [],
                    "key": message.get("bindings", {}).get("kafka", {}).get("key", {}).get("description", ""),
                    "examples": [
                        json.dumps(e["payload"], ensure_ascii=False, separators=(",", ":"))
                        for e in message.get("examples", [])
                    ],
                }
            )
        channels.append(
            {
                "channel": channel,
                "rule": channel.get("x-compatibility", ""),
                "senders": [op["tags"][0]["name"] for op in operations if op["action"] == "send"],
                "receivers": [op["tags"][0]["name"] for op in operations if op["action"] == "receive"],
                "messages": messages,
            }
        )
    return TemplateResponse(request, "stocksync/asyncapi.html", {"doc": doc, "channels": channels})


def _fields(schema):
    required = set(schema.get("required", ()))
    rows = []
    for name, spec in schema.get("properties", {}).items():
        rules = [f"{k} {v}" for k, v in spec.items() if k not in ("type", "description", "enum", "default")]
        if "enum" in spec:
            rules.insert(0, "one of " + ", ".join(spec["enum"]))
        if "default" in spec:
            rules.append(f"default {spec['default']}")
        rows.append(
            {
                "name": name,
                "type": spec.get("type", "string" if all(isinstance(v, str) for v in spec.get("enum", [1])) else "any"),
                "required": name in required,
                "rules": "; ".join(rules),
                "description": spec.get("description", ""),
            }
        )
    return rows
