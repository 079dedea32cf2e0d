"""User service settings."""

from typing import ClassVar

from gluta_kit.settings import ServiceSettings


class UserSettings(ServiceSettings):
    """Settings of the user service."""

    service_name: ClassVar[str] = "user"
    port: int = 8101
