"""Service settings: defaults < config service < environment, validated at start.

The settings are a pydantic model that reads the environment itself (`GLUTA_<FIELD>`, any case; lists,
dicts and models as JSON), as pydantic-settings' environment source does for these fields: that library
alone cost about 3 MB of every service process (memory goal), for two sources.
"""

from __future__ import annotations

import json
import logging
import os
import types
import typing
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

log = logging.getLogger("gluta.settings")

RELOADABLE = {"reloadable": True}
ENV_PREFIX = "GLUTA_"
_COMPLEX = (dict, list, set, frozenset, tuple)


def _is_complex(annotation: Any) -> bool:
    """Whether the environment holds this field's value as JSON (containers and models)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return any(_is_complex(arg) for arg in typing.get_args(annotation) if arg is not type(None))
    if origin is typing.Annotated:
        return _is_complex(typing.get_args(annotation)[0])
    candidate = origin or annotation
    return isinstance(candidate, type) and (issubclass(candidate, _COMPLEX) or issubclass(candidate, BaseModel))


def _env_values(model: type[BaseModel]) -> dict[str, Any]:
    """Return the fields of `model` set in the environment as `GLUTA_<FIELD>` (case-insensitive)."""
    environ = {key.lower(): value for key, value in os.environ.items()}
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        raw = environ.get(f"{ENV_PREFIX}{name}".lower())
        if raw is None:
            continue
        if _is_complex(info.annotation):
            try:
                values[name] = json.loads(raw)
            except ValueError as exc:
                raise ValueError(f'error parsing value for field "{name}" from the environment '
                                 f"({ENV_PREFIX}{name.upper()} must be JSON): {exc}") from exc
        else:
            values[name] = raw
    return values


class EnvSettings(BaseModel):
    """A model filled from, in rising precedence: defaults < `_remote_values` < environment < arguments."""

    model_config = ConfigDict(extra="ignore", validate_default=True)

    def __init__(self, **values: Any) -> None:
        fields = type(self).model_fields
        remote = getattr(type(self), "_remote_values", None) or {}
        merged = {k: v for k, v in remote.items() if k in fields}
        merged.update(_env_values(type(self)))
        merged.update(values)
        super().__init__(**merged)


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


class ServiceSettings(EnvSettings):
    """Settings every service has; each service subclasses it with its own fields."""

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


class _BootstrapSettings(EnvSettings):
    config_url: str | None = "http://127.0.0.1:8888"
    profile: str = "local"


def _env_keys(settings_cls: type[ServiceSettings]) -> set[str]:
    environ = {key.lower() for key in os.environ}
    return {name for name in settings_cls.model_fields if f"{ENV_PREFIX}{name}".lower() in environ}
