"""Order service settings."""

from typing import ClassVar

from gluta_kit.settings import ServiceSettings


class OrderSettings(ServiceSettings):
    """Settings of the order service."""

    service_name: ClassVar[str] = "order"
    port: int = 8103
