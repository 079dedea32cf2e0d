"""The user service in-process on a real database: SQLite always, MariaDB and PostgreSQL when their URLs are set.

Every test that takes `settings` (directly or through `client`) runs once per dialect. MariaDB and PostgreSQL
databases are created once per session with `gluta_kit.testing.temp_database` and emptied before each test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from gluta_kit.testing import make_settings, running, server_url, temp_database
from gluta_user.app import create_app
from gluta_user.clock import ManualClock
from gluta_user.settings import UserSettings

DIALECTS = ["sqlite", "mysql", "postgresql"]
TABLES = ["password_reset_tokens", "token_revocations", "login_throttle", "signing_keys", "refresh_tokens", "admins",
          "members", "kit_outbox", "kit_inbox", "kit_idempotency", "kit_dead_letter"]
ENV_OF = {"mysql": "mysql", "postgresql": "postgres"}


@pytest.fixture(autouse=True)
def _no_memory_trim(monkeypatch: pytest.MonkeyPatch) -> None:
    # the kit hands freed memory back to the OS after start (a full gc.collect): worth it for a service
    # process, a quarter second per test in a test process that starts the app hundreds of times
    monkeypatch.setattr("gluta_kit.service._release_free_memory", lambda: None)


@pytest.fixture(scope="session")
def server_databases() -> Iterator[Callable[[str], str]]:
    """Create one temporary database per server dialect, on first use; drop them at the end."""
    loop = asyncio.new_event_loop()
    created: dict[str, str] = {}
    contexts: list[Any] = []

    def get(dialect: str) -> str:
        if dialect not in created:
            url = server_url(ENV_OF[dialect])
            if not url:
                pytest.skip(f"GLUTA_TEST_{ENV_OF[dialect].upper()}_URL is not set: no {dialect} server to test on")
            context = temp_database(url)
            created[dialect] = loop.run_until_complete(context.__aenter__())
            contexts.append(context)
        return created[dialect]

    yield get
    for context in contexts:
        loop.run_until_complete(context.__aexit__(None, None, None))
    loop.close()


async def _empty(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            existing = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
            for table in TABLES:
                if table in existing:
                    await conn.execute(text(f"DELETE FROM {table}"))
    finally:
        await engine.dispose()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "dialects(*names): run only on these databases (default: all three)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that touches the database once per dialect (or on those its `dialects` mark names)."""
    if "dialect" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("dialects")
        metafunc.parametrize("dialect", list(marker.args) if marker else DIALECTS)


@pytest.fixture
def database_url(dialect: str, server_databases: Callable[[str], str]) -> str | None:
    """None for SQLite (the service's own file under tmp_path), else the session's server database."""
    return None if dialect == "sqlite" else server_databases(dialect)


@pytest.fixture
async def empty_database(database_url: str | None) -> str | None:
    """Empty the server database before the test (SQLite starts empty in tmp_path)."""
    if database_url is not None:
        from gluta_kit.db import normalise_url

        await _empty(normalise_url(database_url))
    return database_url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def settings_values(tmp_path: Path, empty_database: str | None) -> dict[str, Any]:
    """Cheap Argon2 parameters, a fixed key secret, short summary timeouts."""
    return {"database_url": empty_database, "argon2_time_cost": 1, "argon2_memory_kib": 64,
            "key_encryption_secret": "test-key-secret", "summary_timeout_seconds": 0.5, "key_reload_seconds": 600,
            "janitor_interval_seconds": 3600}


@pytest.fixture
def settings(tmp_path: Path, settings_values: dict[str, Any]) -> UserSettings:
    return make_settings(UserSettings, tmp_path, **settings_values)


@pytest.fixture
def start(tmp_path: Path, settings_values: dict[str, Any], clock: ManualClock) -> Callable[..., Any]:
    """Start the app with setting overrides: `async with start(demo=True) as (app, client)`."""

    @asynccontextmanager
    async def _start(**overrides: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
        app = create_app(make_settings(UserSettings, tmp_path, **{**settings_values, **overrides}), clock=clock)
        async with running(app) as client:
            yield app, client

    return _start


@pytest.fixture
async def started(start: Callable[..., Any]) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with start() as pair:
        yield pair


@pytest.fixture
def app(started: tuple[FastAPI, httpx.AsyncClient]) -> FastAPI:
    return started[0]


@pytest.fixture
def client(started: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return started[1]


def member_body(login_id: str, **fields: Any) -> dict[str, Any]:
    body = {"loginId": login_id, "password": "secret123", "memberName": login_id.title(),
            "phoneNumber": "010-1234-5678", "email": f"{login_id}@example.com"}
    body.update(fields)
    return body


@pytest.fixture
def new_member_body() -> Callable[..., dict[str, Any]]:
    """Return a valid sign-up body for a login id."""
    return member_body


@pytest.fixture
def signup() -> Callable[..., Awaitable[dict[str, Any]]]:
    """Sign a member up and return the `Member` answer."""

    async def _signup(client: httpx.AsyncClient, login_id: str, **fields: Any) -> dict[str, Any]:
        response = await client.post("/members", json=member_body(login_id, **fields))
        assert response.status_code == 201, response.text
        return response.json()

    return _signup


@pytest.fixture
def login() -> Callable[..., Awaitable[dict[str, Any]]]:
    """Log a member (or, with admin=True, an admin) in and return the `Tokens` answer."""

    async def _login(client: httpx.AsyncClient, login_id: str, password: str = "secret123", *,
                     admin: bool = False) -> dict[str, Any]:
        response = await client.post("/admin/login" if admin else "/login",
                                     json={"loginId": login_id, "password": password})
        assert response.status_code == 200, response.text
        return response.json()

    return _login


def bearer(tokens: dict[str, Any] | str) -> dict[str, str]:
    token = tokens if isinstance(tokens, str) else tokens["accessToken"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auth() -> Callable[[dict[str, Any] | str], dict[str, str]]:
    """Return the Authorization header of a `Tokens` answer or an access token."""
    return bearer


@pytest.fixture
def outbox() -> Callable[[FastAPI, str], Awaitable[list[dict[str, Any]]]]:
    """Return the payloads the service wrote to its outbox for a topic, oldest first."""

    async def _outbox(app: FastAPI, topic: str) -> list[dict[str, Any]]:
        db = app.state.service.db
        async with db.read_sessions() as session:
            rows = (await session.execute(text("SELECT payload FROM kit_outbox WHERE topic = :t ORDER BY id"),
                                          {"t": topic})).all()
        return [json.loads(row[0]) for row in rows]

    return _outbox


@pytest.fixture
def mails(tmp_path: Path) -> Callable[[], list[EmailMessage]]:
    """Return the mails the file mailer wrote, oldest first."""

    def _mails() -> list[EmailMessage]:
        folder = tmp_path / "mail"
        if not folder.is_dir():
            return []
        parser = BytesParser(policy=policy.default)
        return [parser.parsebytes(path.read_bytes()) for path in sorted(folder.glob("*.eml"))]  # type: ignore[misc]

    return _mails


@pytest.fixture
def sql() -> Callable[..., Awaitable[list[Any]]]:
    """Run a read query on the service's database."""

    async def _sql(app: FastAPI, query: str, **params: Any) -> list[Any]:
        async with app.state.service.db.read_sessions() as session:
            return list((await session.execute(text(query), params)).all())

    return _sql
