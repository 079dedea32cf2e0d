"""Config service settings."""

from pathlib import Path
from typing import ClassVar

from gluta_kit.settings import ServiceSettings


class ConfigSettings(ServiceSettings):
    """Where the configuration repository is."""

    service_name: ClassVar[str] = "config"
    reads_remote_config: ClassVar[bool] = False  # it is the config service
    port: int = 8888
    config_url: str | None = None
    config_repo: Path = Path("config-repo")
