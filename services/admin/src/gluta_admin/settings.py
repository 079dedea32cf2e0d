"""Admin service settings."""

from typing import ClassVar

from gluta_kit.settings import ServiceSettings


class AdminSettings(ServiceSettings):
    """Settings of the admin service."""

    service_name: ClassVar[str] = "admin"
    port: int = 8085
