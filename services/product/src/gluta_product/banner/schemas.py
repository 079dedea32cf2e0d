"""Banner schemas."""

from __future__ import annotations

from urllib.parse import urlparse

from gluta_product.banner.exceptions import InvalidLink
from gluta_product.schemas import CamelModel


class BannerRead(CamelModel):
    banner_id: int
    image_url: str
    link_url: str
    position: int


def clean_link(value: str) -> str:
    """Accept a site path (`/products/3`) or an http(s) URL; refuse `javascript:` and the like."""
    link = value.strip()
    if not link or len(link) > 500:
        raise InvalidLink("linkUrl must have 1-500 characters", errors=[{"field": "linkUrl"}])
    if link.startswith("/") and not link.startswith("//"):
        return link
    parsed = urlparse(link)
    if parsed.scheme in {"http", "https"} and parsed.netloc:
        return link
    raise InvalidLink("linkUrl must be a path starting with '/' or an http(s) URL", errors=[{"field": "linkUrl"}])
