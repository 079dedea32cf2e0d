"""The config service merges YAML by precedence, versions it by git commit, and a refresh reaches every
service live: reloadable settings change without a restart."""

import asyncio
import subprocess
import uuid
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from gluta_config.app import create_app
from gluta_config.repository import ConfigRepository
from gluta_config.settings import ConfigSettings
from gluta_kit.service import Service
from gluta_kit.settings import ServiceSettings
from gluta_kit.testing import make_settings, running, server_url, serving


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "config-repo"
    folder.mkdir()
    git(folder, "init", "-q")
    git(folder, "config", "user.email", "ops@gluta.test")
    git(folder, "config", "user.name", "ops")
    (folder / "application.yml").write_text("log_level: INFO\nshared: {a: 1, b: 1}\n")
    (folder / "order.yml").write_text("shared: {b: 2}\ncheckout_timeout_seconds: 60\n")
    (folder / "order-production.yml").write_text("checkout_timeout_seconds: 30\n")
    git(folder, "add", ".")
    git(folder, "commit", "-qm", "initial")
    return folder


def test_merge_order_and_git_version(repo: Path) -> None:
    config = ConfigRepository(repo)
    values, sources = config.values("order", "production")
    assert values == {"log_level": "INFO", "shared": {"a": 1, "b": 2}, "checkout_timeout_seconds": 30}
    assert sources == ["application.yml", "order.yml", "order-production.yml"]
    head = git(repo, "rev-parse", "HEAD")
    assert config.version() == head
    (repo / "order.yml").write_text("shared: {b: 3}\n")
    assert config.version().startswith(f"{head}-dirty-")
    git(repo, "commit", "-qam", "change")
    assert config.version() == git(repo, "rev-parse", "HEAD")


async def test_http_api(repo: Path, tmp_path: Path) -> None:
    app = create_app(make_settings(ConfigSettings, tmp_path, config_repo=repo))
    async with running(app) as client:
        body = (await client.get("/config/order/local")).json()
        assert body["values"]["shared"] == {"a": 1, "b": 2}
        assert body["version"] == git(repo, "rev-parse", "HEAD")
        bad = await client.get("/config/..%2Fetc/local")
        assert bad.status_code in (404, 422)
        assert (await client.get("/config/Order!/local")).status_code == 422
        (repo / "order.yml").write_text("shared: [unclosed\n")
        broken = await client.get("/config/order/local")
        assert broken.status_code in (409, 422) and broken.json()["code"]


class OrderLikeSettings(ServiceSettings):
    service_name: ClassVar[str] = "order"
    port: int = 0


async def test_refresh_reaches_a_running_service(repo: Path, tmp_path: Path) -> None:
    nats = server_url("nats")
    if not nats:
        pytest.skip("GLUTA_TEST_NATS_URL is not set: no real NATS server")
    namespace = f"t{uuid.uuid4().hex[:10]}"
    config_app = create_app(make_settings(ConfigSettings, tmp_path, config_repo=repo, bus_url=nats,
                                          bus_namespace=namespace))
    async with serving(config_app) as config_url:
        settings = make_settings(OrderLikeSettings, tmp_path, config_url=config_url, bus_url=nats,
                                 bus_namespace=namespace)
        assert settings.log_level == "INFO"
        first_version = settings.config_version
        order = Service(settings).create_app()
        async with serving(order):
            (repo / "application.yml").write_text("log_level: WARNING\nshared: {a: 1, b: 1}\n")
            git(repo, "commit", "-qam", "quieter logs")
            async with httpx.AsyncClient() as client:
                version = (await client.post(f"{config_url}/refresh")).json()["version"]
            for _ in range(100):
                if settings.log_level == "WARNING":
                    break
                await asyncio.sleep(0.05)
            assert settings.log_level == "WARNING"
            assert settings.config_version == version != first_version
