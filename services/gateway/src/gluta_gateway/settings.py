"""Gateway settings: upstream timeouts, rate limits and body limits (most of them reloadable)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from gluta_kit.settings import RELOADABLE, ServiceSettings

MIB = 1024 * 1024


class GatewaySettings(ServiceSettings):
    """What the gateway needs beyond the common settings; names match config-repo/gateway.yml."""

    service_name: ClassVar[str] = "gateway"
    port: int = 8000

    # the services reached as /api/<name>-service/** (and required by /ready and /docs)
    routed_services: list[str] = Field(default_factory=lambda: ["user", "product", "order"])

    # upstream calls
    upstream_timeout_seconds: float = Field(default=10.0, gt=0, le=600, json_schema_extra=RELOADABLE)
    upstream_connect_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    upstream_max_idle_connections: int = Field(default=256, ge=0, le=100_000)  # kept per instance
    discovery_cache_seconds: float = Field(default=2.0, gt=0, le=60)

    # rate limits: token buckets per member (token subject) and per guest address
    rate_limit_enabled: bool = Field(default=True, json_schema_extra=RELOADABLE)
    rate_limit_member_per_second: float = Field(default=20.0, gt=0, json_schema_extra=RELOADABLE)
    rate_limit_member_burst: int = Field(default=40, ge=1, json_schema_extra=RELOADABLE)
    rate_limit_guest_per_second: float = Field(default=200.0, gt=0, json_schema_extra=RELOADABLE)
    rate_limit_guest_burst: int = Field(default=400, ge=1, json_schema_extra=RELOADABLE)
    # with Redis, the buckets are shared by every gateway instance (else each process counts on its own)
    redis_url: str | None = None
    redis_key_prefix: str = "gluta:gateway:"

    # body limits: JSON (any non-multipart body) and multipart uploads
    max_json_body_bytes: int = Field(default=1 * MIB, ge=1, json_schema_extra=RELOADABLE)
    max_upload_body_bytes: int = Field(default=10 * MIB, ge=1, json_schema_extra=RELOADABLE)

    # /docs: how long each service's OpenAPI document is kept
    docs_cache_seconds: float = Field(default=30.0, ge=0)
