"""Product service settings."""

from typing import ClassVar

from gluta_kit.settings import ServiceSettings


class ProductSettings(ServiceSettings):
    """Settings of the product service."""

    service_name: ClassVar[str] = "product"
    port: int = 8102
