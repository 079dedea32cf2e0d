"""Discovery settings."""

from typing import ClassVar

from pydantic import Field

from gluta_kit.settings import ServiceSettings


class DiscoverySettings(ServiceSettings):
    """How long an instance may stay silent before it expires."""

    service_name: ClassVar[str] = "discovery"
    reads_remote_config: ClassVar[bool] = False  # discovery starts first, before config
    port: int = 8761
    discovery_url: str | None = None
    config_url: str | None = None
    expire_after_seconds: float = Field(default=15.0, gt=0)
