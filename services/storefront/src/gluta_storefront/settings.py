"""Storefront service settings."""

from typing import ClassVar

from gluta_kit.settings import ServiceSettings


class StorefrontSettings(ServiceSettings):
    """Settings of the storefront service."""

    service_name: ClassVar[str] = "storefront"
    port: int = 8090
