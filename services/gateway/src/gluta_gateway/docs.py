"""`/docs`: every service's OpenAPI document, reduced to its public routes, as JSON and as one HTML page.

The page is rendered here, without JavaScript or assets from elsewhere, so it works offline: per
service, every route of the gateway's table with who may call it, its summary, parameters, body and
answers as the service documents them.
"""

from __future__ import annotations

import asyncio
import html
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from gluta_gateway.policy import Access, Policy, Rule, public_prefix
from gluta_kit.errors import NotFound, ServiceUnavailable
from gluta_kit.service import Service

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def public_document(service: str, raw: dict[str, Any], policy: Policy) -> dict[str, Any]:
    """Return a service's OpenAPI document with only its public operations, as seen through the gateway."""
    paths: dict[str, Any] = {}
    for path, item in (raw.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        kept: dict[str, Any] = {}
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            rule = policy.match(service, method.upper(), path)
            if rule is None:
                continue  # internal and operational endpoints are not public
            operation = {**operation, "x-access": rule.access.value}
            if rule.access is not Access.GUEST:
                operation["security"] = [{"bearer": []}]
            kept[method] = operation
        if kept:
            kept.update({k: v for k, v in item.items() if k not in HTTP_METHODS})
            paths[path] = kept
    doc = {**raw, "paths": paths, "servers": [{"url": public_prefix(service)}]}
    info = dict(raw.get("info") or {})
    info["title"] = f"{service}-service"
    doc["info"] = info
    components = dict(raw.get("components") or {})
    components["securitySchemes"] = {**(components.get("securitySchemes") or {}),
                                     "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    doc["components"] = components
    return doc


class ApiDocs:
    """Fetch the services' documents through discovery, keep them briefly, and render them."""

    def __init__(self, service: Service, policy: Policy, services: list[str], cache_seconds: float) -> None:
        self.service = service
        self.policy = policy
        self.services = list(services)
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    async def document(self, name: str) -> dict[str, Any]:
        """Return the public document of one service; ServiceUnavailable when it cannot be fetched."""
        if name not in self.services:
            raise NotFound(f"no service {name!r}")
        cached = self._cache.get(name)
        if cached and time.monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        try:
            raw = await self.service.client(name).get_json("/openapi.json")
        except ServiceUnavailable:
            raise
        except Exception as exc:
            raise ServiceUnavailable(f"the {name}-service document could not be read: {exc!r}") from exc
        if not isinstance(raw, dict):
            raise ServiceUnavailable(f"the {name}-service document is not an OpenAPI object")
        doc = public_document(name, raw, self.policy)
        self._cache[name] = (time.monotonic(), doc)
        return doc

    async def page(self) -> str:
        """Return the HTML page of every service's public API."""
        results = await asyncio.gather(*(self.document(name) for name in self.services), return_exceptions=True)
        sections = [self._section(name, result) for name, result in zip(self.services, results, strict=True)]
        index = "".join(f'<a href="#{n}-service">{n}-service</a> ' for n in self.services)
        return _PAGE.format(index=index, sections="".join(sections))

    def _section(self, name: str, result: dict[str, Any] | BaseException) -> str:
        doc = result if isinstance(result, dict) else None
        operations: dict[Rule, tuple[str, dict[str, Any]]] = {}
        for path, item in ((doc or {}).get("paths") or {}).items():
            for method, operation in item.items():
                rule = self.policy.match(name, method.upper(), path) if method in HTTP_METHODS else None
                if rule is not None:
                    operations[rule] = (path, operation)
        e = html.escape
        head = (f'<h2 id="{e(name)}-service">{e(name)}-service '
                f'<small><a href="/docs/openapi/{e(name)}.json">OpenAPI JSON</a></small></h2>')
        if doc is None:
            detail = getattr(result, "detail", None) or repr(result)
            head += f'<p class="down">The service\'s document is unavailable now ({e(str(detail))}); ' \
                    "the gateway's route table follows.</p>"
        elif doc.get("info", {}).get("description"):
            head += f"<p>{e(str(doc['info']['description']))}</p>"
        schemas = ((doc or {}).get("components") or {}).get("schemas") or {}
        rows = []
        for rule in self.policy.rules_of(name):
            found = operations.get(rule)
            operation = found[1] if found else {}
            summary = operation.get("summary") or operation.get("description") or ""
            missing = "" if found or doc is None else ' <span class="down">(not in the service\'s document)</span>'
            rows.append(
                f'<details><summary><span class="m m-{rule.method.lower()}">{rule.method}</span> '
                f"<code>{e(rule.path)}</code> <span class=\"who who-{rule.access.value}\">{rule.access.value}</span> "
                f"{e(str(summary))}{missing}</summary>{_operation_detail(operation, schemas)}</details>")
        return f"<section>{head}{''.join(rows)}</section>"


def _resolve(schema: Any, components: dict[str, Any], depth: int = 0) -> Any:
    """Replace `$ref`s by the schemas they name (a few levels deep), so a reader sees the fields."""
    if depth > 4:
        return schema
    if isinstance(schema, list):
        return [_resolve(item, components, depth) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        named = components.get(ref.rsplit("/", 1)[1])
        if isinstance(named, dict):
            return _resolve(named, components, depth + 1)
    return {key: _resolve(value, components, depth) for key, value in schema.items()}


def _type_of(schema: Any) -> str:
    """Return a short type text for a (resolved) schema: `string`, `integer | null`, `[Item]`..."""
    if not isinstance(schema, dict):
        return "any"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_type_of(option) for option in schema[key])
    if "enum" in schema:
        return " | ".join(orjson.dumps(value).decode() for value in schema["enum"])
    kind = schema.get("type", "object" if "properties" in schema else "any")
    if kind == "array":
        return f"[{_type_of(schema.get('items', {}))}]"
    if kind == "object" and "properties" in schema:
        return schema.get("title", "object")
    limits = [f"{label} {schema[key]}" for key, label in (("minLength", "min length"), ("maxLength", "max length"),
                                                           ("minimum", "≥"), ("maximum", "≤"), ("format", "format"))
              if key in schema]
    return f"{kind} ({', '.join(limits)})" if limits else str(kind)


def _fields(schema: Any, depth: int = 0) -> str:
    """Return an HTML list of an object's fields (nested objects one level further), or its type."""
    if isinstance(schema, dict) and schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return f"<p>a list of</p>{_fields(schema['items'], depth)}"
    if not isinstance(schema, dict) or "properties" not in schema:
        return f"<p><code>{html.escape(_type_of(schema))}</code></p>"
    required = set(schema.get("required") or [])
    items = []
    for name, field in schema["properties"].items():
        nested = ""
        inner = field.get("items") if isinstance(field, dict) and field.get("type") == "array" else field
        if depth < 2 and isinstance(inner, dict) and "properties" in inner:
            nested = _fields(inner, depth + 1)
        mark = "" if name in required else "?"
        items.append(f"<li><code>{html.escape(name)}{mark}</code>: {html.escape(_type_of(field))}{nested}</li>")
    return f"<ul>{''.join(items)}</ul>"


def _operation_detail(operation: dict[str, Any], components: dict[str, Any]) -> str:
    if not operation:
        return ""
    e = html.escape
    parts = []
    params = operation.get("parameters") or []
    if params:
        items = "".join(
            f"<li><code>{e(str(p.get('name')))}</code> in {e(str(p.get('in')))}"
            f"{' (required)' if p.get('required') else ''}</li>" for p in params if isinstance(p, dict))
        parts.append(f"<h4>Parameters</h4><ul>{items}</ul>")
    body = operation.get("requestBody")
    if isinstance(body, dict):
        for media_type, content in (body.get("content") or {}).items():
            schema = _resolve((content or {}).get("schema", {}), components)
            parts.append(f"<h4>Body ({e(media_type)})</h4>{_fields(schema)}")
    responses = operation.get("responses")
    if isinstance(responses, dict):
        codes = ", ".join(f"{e(str(code))} {e(str((r or {}).get('description', '')))}" for code, r in responses.items())
        parts.append(f"<h4>Answers</h4><p>{codes}</p>")
        for code, answer in responses.items():
            if str(code).startswith("2") and isinstance(answer, dict):
                schema = ((answer.get("content") or {}).get("application/json") or {}).get("schema")
                if schema:
                    parts.append(f"<h4>{e(str(code))} answer</h4>{_fields(_resolve(schema, components))}")
    return "".join(parts)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Glutathione API</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}}
details{{border:1px solid #ddd;border-radius:4px;margin:.3rem 0;padding:.3rem .6rem}}
summary{{cursor:pointer}} code{{font-size:.95em}} pre{{background:#f6f6f6;padding:.5rem;overflow:auto}}
.m{{display:inline-block;min-width:4.5rem;font-weight:bold}} .m-get{{color:#0a6}} .m-post{{color:#06c}}
.m-put{{color:#a60}} .m-patch{{color:#a60}} .m-delete{{color:#c33}}
.who{{font-size:.8em;padding:0 .4em;border-radius:3px;background:#eee}} .who-admin{{background:#fdd}}
.who-member{{background:#def}} .who-member-or-admin{{background:#eef}} .down{{color:#c33}}
</style></head><body>
<h1>Glutathione API</h1>
<p>Every public route goes through this gateway: <code>/api/&lt;service&gt;-service/&hellip;</code>.
Send <code>Authorization: Bearer &lt;accessToken&gt;</code> on member and admin routes.
Errors are <code>application/problem+json</code>; every answer carries <code>X-Trace-Id</code>.</p>
<nav>{index}</nav>
{sections}
</body></html>
"""


async def docs_page(request: Request) -> HTMLResponse:
    """Show every service's public API."""
    return HTMLResponse(await request.app.state.gateway.docs.page())


async def docs_document(request: Request) -> Response:
    """Return one service's public OpenAPI document."""
    doc = await request.app.state.gateway.docs.document(request.path_params["name"])
    return Response(orjson.dumps(doc), media_type="application/json")


routes = [
    Route("/docs", docs_page, methods=["GET"]),
    Route("/docs/openapi/{name}.json", docs_document, methods=["GET"]),
]
