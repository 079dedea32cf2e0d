"""Serve product and banner images at the gateway-relative URLs the API hands out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gluta_admin.web import Admin, gateway

router = APIRouter()

PASS_HEADERS = ("content-type", "etag", "cache-control", "last-modified")


@router.get("/api/product-service/images/{image_id}")
async def image(request: Request, image_id: int, admin: Admin) -> Response:
    """Fetch an image through the gateway (with revalidation), so `/api/...` URLs work on admin pages."""
    headers = {}
    if request.headers.get("if-none-match"):
        headers["If-None-Match"] = request.headers["if-none-match"]
    upstream = await gateway(request).call(request, "GET", f"/api/product-service/images/{image_id}", auth="none",
                                           headers=headers, raise_for_status=False)
    kept = {k: v for k, v in upstream.headers.items() if k.lower() in PASS_HEADERS}
    if upstream.status_code == 304:
        return Response(status_code=304, headers=kept)
    if upstream.status_code != 200:
        return Response(status_code=404 if upstream.status_code == 404 else 502)
    kept["X-Content-Type-Options"] = "nosniff"
    return Response(upstream.content, headers=kept)
