"""deploy/ against the code: commands, settings names and values, ports, URL schemes, config copies.

No Docker engine or Kubernetes cluster runs these files here; this test is what keeps them honest.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"

# The process table of ARCHITECTURE.md ("local port" column); checked against that file when it is found.
ARCHITECTURE_PORTS = {"gateway": 8000, "discovery": 8761, "config": 8888, "user": 8101, "product": 8102,
                      "order": 8103, "storefront": 8090, "admin": 8085}
PUBLISHED = {"gateway", "storefront", "admin"}
WITH_DATABASE = {"user", "product", "order", "storefront", "admin"}
WITH_REDIS = {"order", "storefront", "admin"}
NOT_SETTINGS = {"FORWARDED_ALLOW_IPS", "POD_IP"}  # read by uvicorn / used for expansion, not by our settings
# read by the `gluta` command itself rather than by JanitorSettings (checked in test_cli_env_names_are_read)
CLI_ENV = {"GLUTA_DATA_DIR", "GLUTA_CONFIG_URL"}
SECRET_FIELDS = {"internal_token", "key_encryption_secret", "payment_api_secret", "image_storage_secret_access_key"}


def settings_class(service: str) -> type[Any]:
    """Return the Settings class defined in `gluta_<service>.settings` (or the janitor's)."""
    if service == "janitor":
        from gluta_cli.janitor import JanitorSettings

        return JanitorSettings
    from gluta_kit.settings import ServiceSettings

    module = importlib.import_module(f"gluta_{service}.settings")
    classes = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, ServiceSettings)
               and v is not ServiceSettings and v.__module__ == module.__name__]
    assert len(classes) == 1, f"gluta_{service}.settings should define one settings class, found {classes}"
    return classes[0]


def field_of(env_name: str) -> str:
    assert env_name.startswith("GLUTA_"), env_name
    return env_name[len("GLUTA_"):].lower()


_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


def interpolate(value: Any) -> str:
    """Resolve compose's `${VAR}`, `${VAR:-default}` and `${VAR:?message}` with stand-in values."""
    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        if ":-" in text:
            return text.split(":-", 1)[1][:-1]
        return f"x{match.group(1).lower().replace('_', '')}"

    return _INTERPOLATION.sub(replace, str(value))


def check_settings(service: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every GLUTA_* name is a settings field of the service, and the values are accepted by it."""
    cls = settings_class(service)
    for name in env:
        if name in NOT_SETTINGS or (service == "janitor" and name in CLI_ENV):
            continue
        assert field_of(name) in cls.model_fields, f"{service}: {name} is not a setting of {cls.__name__}"
    for name in [k for k in os.environ if k.startswith("GLUTA_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        if name.startswith("GLUTA_"):
            monkeypatch.setenv(name, value)
    return cls()  # env only: no config service is asked


def check_urls(service: str, settings: Any) -> None:
    """The infrastructure URLs are ones the kit (and the service) accept."""
    from sqlalchemy.engine import make_url

    from gluta_kit.bus import Bus
    from gluta_kit.db import normalise_url

    if getattr(settings, "bus_url", None) and service != "janitor":
        assert Bus(settings.bus_url, f"deploy-test-{service}").kind == "kafka", settings.bus_url
    if service in WITH_DATABASE:
        url = make_url(normalise_url(settings.database_url))
        assert url.drivername == "mysql+asyncmy" and url.query.get("charset") == "utf8mb4", url
        assert url.database == f"gluta_{service}", url
    if service in WITH_REDIS:
        import redis.asyncio as aioredis

        assert settings.redis_url.startswith("redis://")
        aioredis.from_url(settings.redis_url)  # parses without connecting


def test_cli_env_names_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from gluta_cli import janitor, paths

    monkeypatch.setenv("GLUTA_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("GLUTA_CONFIG_URL", "http://config:8888")
    assert paths.resolve_data_dir() == tmp_path / "d"
    assert janitor._config_url(tmp_path) == "http://config:8888"


def test_ports_match_architecture() -> None:
    from gluta_cli.paths import SERVICE_PORTS

    for candidate in (REPO / "ARCHITECTURE.md", REPO / "docs" / "ARCHITECTURE.md",
                      REPO.parent / "shared" / "ARCHITECTURE.md"):
        if candidate.is_file():
            rows = re.findall(r"^\|\s*`(\w+)`\s*\|[^|]*\|\s*(\d+)\s*\|", candidate.read_text(), re.M)
            assert {name: int(port) for name, port in rows if name != "broker"} == ARCHITECTURE_PORTS
            break
    assert SERVICE_PORTS == ARCHITECTURE_PORTS
    for service, port in ARCHITECTURE_PORTS.items():
        assert settings_class(service).model_fields["port"].default == port, service


# --------------------------------------------------------------------------- docker compose


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose["services"].items() if name not in {"kafka", "mysql", "redis"}}


def test_compose_runs_every_service_from_its_module(compose: dict[str, Any]) -> None:
    services = app_services(compose)
    assert set(services) == set(ARCHITECTURE_PORTS) | {"janitor"}
    for name, svc in services.items():
        assert svc["image"].endswith("glutathione:latest}") and svc["build"]["dockerfile"] == "deploy/Dockerfile"
        if name == "janitor":
            assert svc["command"] == ["gluta", "janitor", "run", "--json"]
            assert importlib.util.find_spec("gluta_cli.__main__") is not None  # `gluta` = gluta_cli.main:main
            from gluta_cli.main import build_parser

            assert build_parser().parse_args(svc["command"][1:]).func.__name__ == "run_run"
            continue
        assert svc["command"] == ["python", "-m", f"gluta_{name}"]
        assert importlib.util.find_spec(f"gluta_{name}.__main__") is not None
        importlib.import_module(f"gluta_{name}.__main__")  # guarded by `if __name__ == "__main__"`


@pytest.mark.parametrize("name", [*ARCHITECTURE_PORTS, "janitor"])
def test_compose_env_names_values_and_urls(compose: dict[str, Any], name: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    svc = app_services(compose)[name]
    env = {k: interpolate(v) for k, v in svc["environment"].items()}
    settings = check_settings(name, env, monkeypatch)
    check_urls(name, settings)
    assert settings.profile == "production"
    assert settings.internal_token, f"{name} has no internal token"
    if name == "janitor":
        assert settings.static_instances == {"product": ["http://product:8102"]}
        assert settings.janitor_services == ["product"]
        return
    port = ARCHITECTURE_PORTS[name]
    assert settings.port == port and settings.host == "0.0.0.0"
    assert settings.public_url == f"http://{name}:{port}"
    assert str(settings.data_dir) == "/data"
    if name not in {"discovery", "config"}:
        assert settings.discovery_url == "http://discovery:8761" and settings.config_url == "http://config:8888"
    health = " ".join(svc["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/health" in health
    assert svc["deploy"]["resources"]["limits"]["memory"]


def test_compose_publishes_only_the_edge_and_gives_each_service_its_database(compose: dict[str, Any]) -> None:
    services = app_services(compose)
    published = {name: svc["ports"] for name, svc in compose["services"].items() if svc.get("ports")}
    assert published == {name: [f"{ARCHITECTURE_PORTS[name]}:{ARCHITECTURE_PORTS[name]}"] for name in PUBLISHED}
    databases = {name: interpolate(svc["environment"]["GLUTA_DATABASE_URL"]).rsplit("/", 1)[1]
                 for name, svc in services.items() if "GLUTA_DATABASE_URL" in svc["environment"]}
    assert set(databases) == WITH_DATABASE
    assert len(set(databases.values())) == len(databases)  # one database per service
    init = (DEPLOY / "mysql-init" / "01-databases.sql").read_text()
    created = set(re.findall(r"CREATE DATABASE IF NOT EXISTS (\w+)", init))
    granted = set(re.findall(r"GRANT ALL PRIVILEGES ON (\w+)\.\* TO 'gluta'@'%'", init))
    assert created == granted == set(databases.values())
    assert compose["services"]["mysql"]["environment"]["MYSQL_USER"] == "gluta"
    kafka = compose["services"]["kafka"]["environment"]
    assert kafka["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092" and "broker" in kafka["KAFKA_PROCESS_ROLES"]
    for infra in ("kafka", "mysql", "redis"):
        assert compose["services"][infra]["healthcheck"] and compose["services"][infra]["deploy"]["resources"]
    # the gateway believes X-Forwarded-For from exactly the two web front-ends
    trusted = compose["services"]["gateway"]["environment"]["FORWARDED_ALLOW_IPS"].split(",")
    fronts = [compose["services"][n]["networks"]["gluta"]["ipv4_address"] for n in ("storefront", "admin")]
    assert sorted(trusted) == sorted(fronts)


def test_no_secret_is_written_in_the_compose_file(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            secret = field_of(key) in SECRET_FIELDS if key.startswith("GLUTA_") else "PASSWORD" in key
            if secret:
                assert str(value).startswith("${"), f"{name}.{key} holds a literal secret"
            if "DATABASE_URL" in key:
                assert "${MYSQL_PASSWORD}" in str(value)


def test_the_documented_s3_image_storage_urls_are_accepted(compose: dict[str, Any],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    product = compose["services"]["product"]["environment"]
    assert interpolate(product["GLUTA_IMAGE_STORAGE_URL"]) == "file:///data/images"  # the default stays the volume
    documented = re.findall(r"^#\s+GLUTA_IMAGE_STORAGE_URL=(s3://\S+)", (DEPLOY / ".env.example").read_text(), re.M)
    assert documented
    for url in documented:  # the product service's settings parse it (bucket, prefix, endpoint, region)
        settings = check_settings("product", {"GLUTA_IMAGE_STORAGE_URL": url}, monkeypatch)
        assert settings.image_storage_url == url


# --------------------------------------------------------------------------- kubernetes


@pytest.fixture(scope="module")
def k8s() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def container_env(docs: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """Return the container's environment: envFrom ConfigMaps, then env (secrets as stand-in values)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    secret = find(docs, "Secret", "gluta-secrets")["stringData"]
    stand_ins = {"user-database-url": "mysql://gluta:pw@mysql:3306/gluta_user",
                 "product-database-url": "mysql://gluta:pw@mysql:3306/gluta_product",
                 "order-database-url": "mysql://gluta:pw@mysql:3306/gluta_order",
                 "storefront-database-url": "mysql://gluta:pw@mysql:3306/gluta_storefront",
                 "admin-database-url": "mysql://gluta:pw@mysql:3306/gluta_admin",
                 "order-redis-url": "redis://redis:6379/0", "storefront-redis-url": "redis://redis:6379/1",
                 "admin-redis-url": "redis://redis:6379/2", "payment-provider-url": "", "payment-api-secret": ""}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"]).replace("$(POD_IP)", "10.1.2.3")
        elif "secretKeyRef" in item.get("valueFrom", {}):
            key = item["valueFrom"]["secretKeyRef"]["key"]
            assert key in secret, f"secret key {key!r} is not in secret.example.yaml"
            env[item["name"]] = stand_ins.get(key, f"stand-in-{key}")
    return env


@pytest.mark.parametrize("name", list(ARCHITECTURE_PORTS))
def test_k8s_deployment_and_service(k8s: list[dict[str, Any]], name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    port = ARCHITECTURE_PORTS[name]
    deployment = find(k8s, "Deployment", name)
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["python", "-m", f"gluta_{name}"]
    importlib.import_module(f"gluta_{name}.__main__")
    assert [p["containerPort"] for p in container["ports"]] == [port]
    env = container_env(k8s, container)
    settings = check_settings(name, env, monkeypatch)
    check_urls(name, settings)
    assert settings.port == port and settings.public_url == f"http://10.1.2.3:{port}"
    assert settings.profile == "production" and settings.internal_token
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["resources"]["limits"]["memory"]
    service = find(k8s, "Service", name)
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert [p["port"] for p in service["spec"]["ports"]] == [port]
    for mount in container.get("volumeMounts", []):
        assert any(v["name"] == mount["name"] for v in pod["spec"]["volumes"])


def test_k8s_config_repo_copy_and_kustomization(k8s: list[dict[str, Any]]) -> None:
    data = find(k8s, "ConfigMap", "gluta-config-repo")["data"]
    files = {p.name: p.read_text() for p in sorted((REPO / "config-repo").glob("*.yml"))}
    assert data == files, "deploy/k8s/config-repo.yaml is out of date (see the command in its header)"
    config = find(k8s, "Deployment", "config")["spec"]["template"]["spec"]
    assert config["volumes"][0]["configMap"]["name"] == "gluta-config-repo"
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk - {"secret.example.yaml"}  # the secret placeholder is applied by hand, filled


def test_janitor_schedule_and_command_everywhere(k8s: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    janitor_yml = yaml.safe_load((REPO / "config-repo" / "janitor.yml").read_text())
    cron = janitor_yml["janitor_cron"]
    assert cron == "0 1 * * 1" and janitor_yml["janitor_older_than_days"] == 30
    job = find(k8s, "CronJob", "gluta-janitor")
    assert job["spec"]["schedule"] == cron and job["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["gluta", "janitor", "run", "--json"]
    settings = check_settings("janitor", container_env(k8s, container), monkeypatch)
    assert settings.static_instances == {"product": [f"http://product:{ARCHITECTURE_PORTS['product']}"]}
    lines = [ln for ln in (DEPLOY / "crontab").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(lines) == 1
    assert lines[0].split()[:5] == cron.split()
    assert "docker compose -f deploy/docker-compose.yml" in lines[0] and "run --rm janitor" in lines[0]


# --------------------------------------------------------------------------- the image


def test_dockerfile_installs_the_locked_workspace() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim AS build$", text, re.M)
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert "uv sync --frozen --no-dev" in text
    import tomllib

    members = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]["members"]
    projects = sorted(str(p.parent.relative_to(REPO)) for pattern in members
                      for p in REPO.glob(f"{pattern}/pyproject.toml"))
    copied = sorted(re.findall(r"^COPY (\S+)/pyproject\.toml \1/$", text, re.M))
    assert copied == projects, "every workspace member's pyproject.toml must be copied before the first uv sync"
    assert 'CMD ["python", "-m", "gluta_gateway"]' in text
