"""`gluta up --ports free` and `--profile production`: the processes, their settings, the databases and users.

The specs are checked without starting anything; provisioning runs against the real MariaDB and Redis
given by GLUTA_TEST_MYSQL_URL / GLUTA_TEST_REDIS_URL (the whole stack runs in tests/e2e, `make e2e-production`).
"""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from urllib.parse import urlparse

import pytest

from gluta_cli import launcher, paths, production
from gluta_cli.launcher import UpOptions
from gluta_cli.production import DATABASE_SERVICES, ProductionOptions
from gluta_kit.testing import server_url

MYSQL = server_url("mysql")
REDIS = server_url("redis")


def test_free_ports_move_every_process_and_tell_the_web_front_ends(tmp_path: Path) -> None:
    specs = launcher.build_specs(UpOptions(data_dir=tmp_path, ports="free", scale={"gateway": 2}))
    ports = [s.port for s in specs]
    assert len(set(ports)) == len(ports)
    assert not set(ports) & set(paths.ALL_PORTS.values())
    by = {s.label: s for s in specs}
    assert by["user"].env["GLUTA_BUS_URL"] == f"nats://127.0.0.1:{by['broker'].port}"
    assert by["user"].env["GLUTA_DISCOVERY_URL"] == f"http://127.0.0.1:{by['discovery'].port}"
    gateways = f"http://127.0.0.1:{by['gateway'].port},http://127.0.0.1:{by['gateway-1'].port}"
    assert by["storefront"].env["GLUTA_GATEWAY_URL"] == by["admin"].env["GLUTA_GATEWAY_URL"] == gateways
    assert by["user"].env["GLUTA_STOREFRONT_URL"] == f"http://127.0.0.1:{by['storefront'].port}"
    assert "GLUTA_PROFILE" not in by["user"].env and "GLUTA_DATABASE_URL" not in by["user"].env


def test_fixed_ports_pass_what_they_always_did(tmp_path: Path) -> None:
    specs = launcher.build_specs(UpOptions(data_dir=tmp_path))
    for spec in specs:
        assert "GLUTA_GATEWAY_URL" not in spec.env and "GLUTA_STOREFRONT_URL" not in spec.env
        assert "GLUTA_REDIS_URL" not in spec.env and "GLUTA_PROFILE" not in spec.env


def production_specs(tmp_path: Path, **kwargs: object) -> list[launcher.ProcessSpec]:
    options = UpOptions(data_dir=tmp_path, ports="free", production=ProductionOptions(
        mysql_url="mysql://root@db.example:3307", redis_url="redis://cache.example:6379/3", **kwargs))  # type: ignore[arg-type]
    options.stack = production.open_state(tmp_path, options.production)  # type: ignore[arg-type]
    return launcher.build_specs(options)


def test_production_specs_two_instances_tansu_and_each_service_its_database(tmp_path: Path) -> None:
    specs = production_specs(tmp_path)
    labels = [s.label for s in specs]
    assert labels == ["broker", "discovery", "config", "user", "product", "product-1", "order", "order-1",
                      "gateway", "gateway-1", "storefront", "admin"]
    broker = specs[0]
    assert broker.url == f"kafka://127.0.0.1:{broker.port}"
    assert broker.argv[1:] == ["broker", "--listener-url", f"tcp://127.0.0.1:{broker.port}",
                               "--advertised-listener-url", f"tcp://127.0.0.1:{broker.port}",
                               "--storage-engine", "memory://tansu/"]
    state = production.read_state(tmp_path)
    assert state is not None and state.prefix.startswith("gluta_")
    assert stat.S_IMODE(production.state_path(tmp_path).stat().st_mode) == 0o600  # passwords inside
    users = set()
    for spec in specs[1:]:
        env = spec.env
        assert env["GLUTA_PROFILE"] == "production" and env["GLUTA_BUS_URL"] == broker.url
        assert env["GLUTA_INTERNAL_TOKEN"] == state.internal_token
        if spec.name in DATABASE_SERVICES:
            url = urlparse(env["GLUTA_DATABASE_URL"])
            assert (url.hostname, url.port) == ("db.example", 3307)
            assert url.username == url.path.lstrip("/") == f"{state.prefix}_{spec.name}"  # its own user and database
            assert url.password == state.passwords[spec.name]
            assert env["GLUTA_DATABASE_POOL_SIZE"] == "8"  # 7 instances x 2 x 8 fit a default max_connections
            users.add(url.username)
        else:
            assert "GLUTA_DATABASE_URL" not in env
        if spec.name in {"order", "storefront", "admin", "gateway", "user"}:
            assert env["GLUTA_REDIS_URL"] == "redis://cache.example:6379/3"
            assert env["GLUTA_REDIS_KEY_PREFIX"] == f"{state.prefix}:{spec.name}:"
    assert len(users) == len(DATABASE_SERVICES)
    assert specs[3].env["GLUTA_KEY_ENCRYPTION_SECRET"] == state.key_encryption_secret
    gateways = [s.url for s in specs if s.name == "gateway"]
    assert specs[-1].env["GLUTA_GATEWAY_URL"] == ",".join(gateways)


def test_a_second_run_on_the_same_data_dir_finds_its_databases_again(tmp_path: Path) -> None:
    first = production_specs(tmp_path)
    second = production_specs(tmp_path)
    assert first[3].env["GLUTA_DATABASE_URL"] == second[3].env["GLUTA_DATABASE_URL"]
    other = tmp_path / "other"
    third = production_specs(other)
    assert third[3].env["GLUTA_DATABASE_URL"] != first[3].env["GLUTA_DATABASE_URL"]  # parallel stacks never share


def test_an_external_kafka_starts_no_broker(tmp_path: Path) -> None:
    specs = production_specs(tmp_path, kafka_url="kafka://kafka.example:9092")
    assert specs[0].name == "discovery"
    assert all(s.env["GLUTA_BUS_URL"] == "kafka://kafka.example:9092" for s in specs)


@pytest.mark.parametrize(("option", "value", "message"), [
    ("mysql_url", "postgresql://x@h/db", "--mysql-url"),
    ("redis_url", "http://h:6379", "--redis-url"),
    ("kafka_url", "nats://h:4222", "--kafka-url"),
    ("prefix", "Bad-Name", "--db-prefix"),
])
def test_bad_production_values_are_refused_before_anything_starts(tmp_path: Path, option: str, value: str,
                                                                  message: str) -> None:
    values = {"mysql_url": "mysql://root@127.0.0.1", "redis_url": "redis://127.0.0.1/0", option: value}
    with pytest.raises(ValueError, match=message):
        production.open_state(tmp_path, ProductionOptions(**values))


def test_gluta_up_says_how_to_get_tansu_when_it_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(production.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(FileNotFoundError, match="--kafka-url"):
        production.find_tansu()


@pytest.mark.connected
@pytest.mark.skipif(not (MYSQL and REDIS), reason="GLUTA_TEST_MYSQL_URL and GLUTA_TEST_REDIS_URL are not set")
def test_provision_gives_each_service_a_user_that_reaches_only_its_own_database(tmp_path: Path) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from gluta_kit.db import normalise_url

    assert MYSQL and REDIS
    server = MYSQL.rsplit("/", 1)[0]
    state = production.open_state(tmp_path, ProductionOptions(mysql_url=server, redis_url=REDIS))
    production.provision(tmp_path, state)
    try:
        async def check() -> None:
            engine = create_async_engine(normalise_url(state.database_url("order")))
            try:
                async with engine.connect() as conn:
                    await conn.exec_driver_sql("CREATE TABLE t (id INT PRIMARY KEY)")  # its own: allowed
                    visible = {row[0] for row in await conn.exec_driver_sql("SHOW DATABASES")}
                    assert visible == {"information_schema", state.database("order")}
                    with pytest.raises(Exception, match="denied"):
                        await conn.exec_driver_sql(f"SELECT 1 FROM `{state.database('user')}`.alembic_version")
                    with pytest.raises(Exception, match="denied"):
                        await conn.exec_driver_sql("CREATE DATABASE gluta_not_mine")
            finally:
                await engine.dispose()

        asyncio.run(check())
        assert state.server_version.split()[0] in {"MariaDB", "MySQL"}
        assert json.loads(production.state_path(tmp_path).read_text())["server_version"] == state.server_version
    finally:
        said = production.teardown(tmp_path, state)
    assert "dropped 5 databases" in said and not production.state_path(tmp_path).exists()

    async def gone() -> list[str]:
        engine = create_async_engine(normalise_url(server))
        try:
            async with engine.connect() as conn:
                rows = await conn.exec_driver_sql(f"SHOW DATABASES LIKE '{state.prefix}%%'")
                return [r[0] for r in rows]
        finally:
            await engine.dispose()

    assert asyncio.run(gone()) == []
