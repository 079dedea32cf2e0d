"""Admin service settings (env `GLUTA_<FIELD>`)."""

from typing import ClassVar

from pydantic import Field

from gluta_kit.settings import ServiceSettings


class AdminSettings(ServiceSettings):
    """Settings of the admin web front-end."""

    service_name: ClassVar[str] = "admin"
    port: int = 8085

    # the public API every page is built from
    gateway_url: str = "http://127.0.0.1:8000"
    gateway_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # links to the customer site (product pages)
    storefront_url: str = "http://127.0.0.1:8090"

    # sessions: their own cookie name, so the storefront's cookie on the same host is never read here
    session_cookie_name: str = "gluta_admin_session"
    session_max_age_seconds: int = Field(default=8 * 3600, ge=300, le=30 * 24 * 3600)
    # None: Secure when the request came over https
    session_cookie_secure: bool | None = None
    # sessions in Redis instead of the admin's own database (several hosts)
    redis_url: str | None = None

    # the operations page asks each instance directly; each call gets this long
    operations_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
