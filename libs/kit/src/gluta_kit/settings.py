"""Service settings: defaults < config service < environment, validated at start."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

log = logging.getLogger("gluta.settings")

RELOADABLE = {"reloadable": True}


class ConfigServiceSource(PydanticBaseSettingsSource):
    """Read this service's merged settings from the config service once, at start."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._values.items() if k in self.settings_cls.model_fields}


def fetch_remote_config(config_url: str | None, service: str, profile: str) -> tuple[dict[str, Any], str | None]:
    """Fetch `{values, version}` from the config service; empty when it is unreachable."""
    if not config_url:
        return {}, None
    import httpx  # not in a process that reads no remote settings (discovery, config: memory)

    try:
        response = httpx.get(f"{config_url.rstrip('/')}/config/{service}/{profile}", timeout=2.0)
        response.raise_for_status()
        body = response.json()
        return dict(body.get("values") or {}), body.get("version")
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("config service unreachable at %s (%s); starting on local defaults", config_url, exc)
        return {}, None


class ServiceSettings(BaseSettings):
    """Settings every service has; each service subclasses it with its own fields."""

    model_config = SettingsConfigDict(env_prefix="GLUTA_", extra="ignore", validate_default=True)

    service_name: ClassVar[str] = "service"
    reads_remote_config: ClassVar[bool] = True

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    instance: int = 0
    data_dir: Path = Path("var")
    profile: str = "local"
    demo: bool = False
    database_url: str | None = None
    bus_url: str = "nats://127.0.0.1:4290"
    bus_namespace: str = ""
    # Kafka: partitions (and replicas) of the topics the bus creates at start when they are missing
    kafka_partitions: int = Field(default=3, ge=1, le=1000)
    kafka_replication_factor: int = Field(default=1, ge=1, le=10)
    # an instance that stops answering loses its partitions to the others after this long
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1000, le=300_000)
    discovery_url: str | None = "http://127.0.0.1:8761"
    config_url: str | None = "http://127.0.0.1:8888"
    public_url: str | None = None
    internal_token: str | None = None
    jwt_issuer: str = "gluta-user"
    jwt_audience: str = "gluta"
    jwks_url: str | None = None
    static_instances: dict[str, list[str]] = Field(default_factory=dict)
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    http_timeout_seconds: float = Field(default=5.0, gt=0)
    consumer_max_attempts: int = Field(default=5, ge=1, le=100)
    # revoked access tokens: a broadcast applies them at once; this catch-up bounds the delay when one is missed
    revocation_sync_seconds: float = Field(default=30.0, gt=0, le=3600)
    migrate_in_subprocess: bool = True  # migrations and demo data run in short-lived processes (idle memory)
    trim_memory_after_start: bool = True
    outbox_batch_size: int = Field(default=200, ge=1, le=10_000)
    log_level: str = Field(default="INFO", json_schema_extra=RELOADABLE)
    feature_flags: dict[str, bool] = Field(default_factory=dict, json_schema_extra=RELOADABLE)

    config_version: str | None = None

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        remote = getattr(cls, "_remote_values", {}) or {}
        return (init_settings, env_settings, ConfigServiceSource(settings_cls, remote), file_secret_settings)

    @classmethod
    def load(cls, **overrides: Any) -> ServiceSettings:
        """Build settings from the environment, asking the config service for what it does not set."""
        env_only = _BootstrapSettings(**{k: v for k, v in overrides.items() if k in _BootstrapSettings.model_fields})
        config_url = overrides.get("config_url", env_only.config_url)
        profile = overrides.get("profile", env_only.profile)
        values, version = ({}, None)
        if cls.reads_remote_config:
            values, version = fetch_remote_config(config_url, cls.service_name, profile)
        cls._remote_values = values  # type: ignore[attr-defined]
        try:
            settings = cls(**overrides)
        finally:
            cls._remote_values = {}  # type: ignore[attr-defined]
        settings.config_version = version
        return settings

    @property
    def resolved_database_url(self) -> str:
        """Return the database URL, defaulting to this service's SQLite file under the data dir."""
        if self.database_url:
            return self.database_url
        if self.profile == "production":
            raise ValueError(f"GLUTA_DATABASE_URL must be set for {self.service_name} in production "
                             "(the SQLite default is for local mode only)")
        path = (self.data_dir / "db" / f"{self.service_name}.db").resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{path}"

    @property
    def base_url(self) -> str:
        """Return the address other processes reach this instance at."""
        return self.public_url or f"http://{self.host}:{self.port}"

    def reloadable_fields(self) -> set[str]:
        """Return the names of settings that may change without a restart."""
        return {
            name
            for name, info in type(self).model_fields.items()
            if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("reloadable")
        }

    def apply_reload(self, values: dict[str, Any], version: str | None) -> dict[str, Any]:
        """Validate new remote values and apply the reloadable ones in place; return what changed."""
        candidate = type(self).model_validate({**self.model_dump(), **values})
        changed: dict[str, Any] = {}
        env_set = _env_keys(type(self))
        for name in self.reloadable_fields():
            if name in env_set:
                continue  # the environment wins over the config service, also on reload
            new = getattr(candidate, name)
            if getattr(self, name) != new:
                object.__setattr__(self, name, new)
                changed[name] = new
        self.config_version = version
        return changed


class _BootstrapSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GLUTA_", extra="ignore")
    config_url: str | None = "http://127.0.0.1:8888"
    profile: str = "local"


def _env_keys(settings_cls: type[ServiceSettings]) -> set[str]:
    import os

    prefix = "GLUTA_"
    return {name for name in settings_cls.model_fields if f"{prefix}{name.upper()}" in os.environ}
