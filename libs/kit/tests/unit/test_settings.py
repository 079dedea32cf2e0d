"""Settings: defaults < config service < environment; bad values fail at start; reloads apply live."""

from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

import gluta_kit.settings as settings_module
from gluta_kit.settings import ServiceSettings


class DemoSettings(ServiceSettings):
    service_name: ClassVar[str] = "demo"
    port: int = 9999
    greeting: str = "hello"


@pytest.fixture
def remote(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    values: dict[str, Any] = {}
    monkeypatch.setattr(settings_module, "fetch_remote_config", lambda url, service, profile: (values, "v1"))
    return values


def test_defaults_apply_without_config(remote: dict[str, Any]) -> None:
    settings = DemoSettings.load()
    assert settings.greeting == "hello"
    assert settings.config_version == "v1"


def test_config_service_overrides_defaults(remote: dict[str, Any]) -> None:
    remote.update(greeting="from-config", log_level="debug")
    settings = DemoSettings.load()
    assert settings.greeting == "from-config"
    assert settings.log_level == "DEBUG"


def test_environment_overrides_config_service(remote: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    remote.update(greeting="from-config")
    monkeypatch.setenv("GLUTA_GREETING", "from-env")
    assert DemoSettings.load().greeting == "from-env"


def test_bad_values_fail_fast(remote: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLUTA_PORT", "not-a-port")
    with pytest.raises(ValidationError):
        DemoSettings.load()
    monkeypatch.setenv("GLUTA_PORT", "8000")
    remote.update(log_level="LOUD")
    with pytest.raises(ValidationError):
        DemoSettings.load()


def test_unreachable_config_service_means_local_defaults() -> None:
    values, version = settings_module.fetch_remote_config("http://127.0.0.1:9", "demo", "local")
    assert (values, version) == ({}, None)


def test_reload_changes_only_reloadable_settings(remote: dict[str, Any]) -> None:
    settings = DemoSettings.load()
    changed = settings.apply_reload({"log_level": "WARNING", "greeting": "changed", "port": 1}, "v2")
    assert changed == {"log_level": "WARNING"}
    assert settings.greeting == "hello" and settings.port == 9999
    assert settings.config_version == "v2"


def test_reload_never_overrides_the_environment(remote: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLUTA_LOG_LEVEL", "ERROR")
    settings = DemoSettings.load()
    assert settings.apply_reload({"log_level": "DEBUG"}, "v2") == {}
    assert settings.log_level == "ERROR"


def test_reload_with_a_bad_value_is_refused(remote: dict[str, Any]) -> None:
    settings = DemoSettings.load()
    with pytest.raises(ValidationError):
        settings.apply_reload({"log_level": "SHOUT"}, "v3")
    assert settings.log_level == "INFO"


def test_production_needs_a_database_url(remote: dict[str, Any]) -> None:
    settings = DemoSettings.load(profile="production")
    with pytest.raises(ValueError, match="GLUTA_DATABASE_URL"):
        _ = settings.resolved_database_url
    assert DemoSettings.load(profile="production", database_url="mysql://db/x").resolved_database_url == "mysql://db/x"
