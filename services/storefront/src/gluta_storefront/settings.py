"""Storefront service settings."""

from typing import ClassVar

from pydantic import Field

from gluta_kit.settings import RELOADABLE, ServiceSettings


class StorefrontSettings(ServiceSettings):
    """Settings of the storefront (env `GLUTA_<FIELD>`)."""

    service_name: ClassVar[str] = "storefront"
    port: int = 8090

    # the public API every page is built from
    gateway_url: str = "http://127.0.0.1:8000"
    gateway_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # sessions: in this service's database, or in Redis when a URL is given
    redis_url: str | None = None
    session_max_age_seconds: int = Field(default=14 * 24 * 3600, ge=60)
    # None: `Secure` cookies when the request came over https (directly or through a proxy)
    cookie_secure: bool | None = None
    # guest-visible lists (banners, best sellers, search results) are kept this long
    public_cache_seconds: float = Field(default=5.0, ge=0, le=600, json_schema_extra=RELOADABLE)
    # how often the order page asks for the status of a pending order
    order_poll_milliseconds: int = Field(default=1000, ge=200, le=60_000)
