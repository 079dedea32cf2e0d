"""docs/OPERATIONS.md names every setting of every service (and of the janitor) and the commands it shows exist."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "OPERATIONS.md"
SERVICES = ["gateway", "discovery", "config", "user", "product", "order", "storefront", "admin"]
NOT_SETTINGS = {"config_version"}  # filled by the service itself from the config service's answer


def settings_fields() -> dict[str, set[str]]:
    from gluta_cli.janitor import JanitorSettings
    from gluta_kit.settings import ServiceSettings

    fields = {"janitor": set(JanitorSettings.model_fields)}
    for service in SERVICES:
        module = importlib.import_module(f"gluta_{service}.settings")
        (cls,) = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, ServiceSettings)
                  and v is not ServiceSettings and v.__module__ == module.__name__]
        fields[service] = set(cls.model_fields) - NOT_SETTINGS
    return fields


@pytest.mark.parametrize("service", [*SERVICES, "janitor"])
def test_every_setting_is_explained(service: str) -> None:
    named = set(re.findall(r"`(GLUTA_[A-Z0-9_]+)`", DOC.read_text()))
    wanted = {f"GLUTA_{name.upper()}" for name in settings_fields()[service]}
    missing = sorted(wanted - named)
    assert not missing, f"docs/OPERATIONS.md does not explain {service}'s {missing}"


def test_no_setting_is_explained_that_does_not_exist() -> None:
    known = {f"GLUTA_{name.upper()}" for fields in settings_fields().values() for name in fields}
    named = set(re.findall(r"\| `(GLUTA_[A-Z0-9_]+)`", DOC.read_text()))  # the first column of the tables
    assert not named - known, sorted(named - known)


def test_the_commands_it_shows_exist() -> None:
    from gluta_cli.main import build_parser

    text = DOC.read_text()
    parser = build_parser()
    for line in ("up --profile production --ports free --ephemeral --db-prefix x --kafka-url kafka://k:9092",
                 "drop-production --yes", "status", "logs --trace 0af7651916cd43dd", "dlq list",
                 "janitor run --dry-run --older-than 45d", "config refresh"):
        assert f"gluta {line.split()[0]}" in text
        parser.parse_args(line.split())  # exits on an unknown option
    for relative in ("deploy/mysql-init/01-databases.sh", "deploy/logging/", "deploy/crontab",
                     "deploy/k8s/env-configmap.yaml", "deploy/k8s/secret.example.yaml", "config-repo/janitor.yml"):
        assert relative in text and (REPO / relative).exists(), relative
    assert "rotate-keys" in text
    from gluta_user.__main__ import main as user_main  # noqa: F401  (python -m gluta_user rotate-keys)
