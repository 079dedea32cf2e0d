"""Accounts made at start: demo data only in demo mode, an admin from the environment, `admin-create`."""

import asyncio
import io
import json
import os
import sqlite3
import sys

import pytest
from pydantic import ValidationError

from gluta_kit.testing import make_settings
from gluta_user import cli
from gluta_user.settings import UserSettings


async def test_demo_mode_seeds_a_member_and_an_admin_and_lists_them(start, login, tmp_path, outbox) -> None:
    async with start(demo=True) as (app, client):
        accounts = json.loads((tmp_path / "demo-accounts.json").read_text())
        assert {(a["role"], a["loginId"]) for a in accounts} == {("member", "demo"), ("admin", "admin")}
        by_role = {a["role"]: a for a in accounts}
        member = await login(client, "demo", by_role["member"]["password"])
        admin = await login(client, "admin", by_role["admin"]["password"], admin=True)
        assert (member["member"]["role"], admin["member"]["role"]) == ("member", "admin")
        [event] = await outbox(app, "gluta.user.member-registered")
        assert event["loginId"] == "demo", "the demo member signs up through the service's own code"
    async with start(demo=True) as (app, client):
        assert len(await outbox(app, "gluta.user.member-registered")) == 1, "a restart seeds nothing twice"
        await login(client, "demo", "demo1234!")


async def test_no_demo_data_and_no_default_admin_outside_demo_mode(started, tmp_path, sql) -> None:
    app, client = started
    assert not (tmp_path / "demo-accounts.json").exists()
    assert await sql(app, "SELECT COUNT(*) FROM admins") == [(0,)]
    assert await sql(app, "SELECT COUNT(*) FROM members") == [(0,)]
    for login_id, password in [("admin", "admin1234!"), ("admin", "admin"), ("demo", "demo1234!")]:
        response = await client.post("/admin/login", json={"loginId": login_id, "password": password})
        assert response.status_code == 401


async def test_the_environment_ensures_an_admin(start, login, monkeypatch) -> None:
    monkeypatch.setenv("GLUTA_ADMIN_LOGIN_ID", "Root_Op")
    monkeypatch.setenv("GLUTA_ADMIN_PASSWORD", "first-pass1")
    async with start() as (_, client):
        await login(client, "root_op", "first-pass1", admin=True)
    monkeypatch.setenv("GLUTA_ADMIN_PASSWORD", "second-pass2")
    async with start() as (_, client):
        await login(client, "root_op", "second-pass2", admin=True)
        old = await client.post("/admin/login", json={"loginId": "root_op", "password": "first-pass1"})
        assert old.status_code == 401


@pytest.mark.parametrize(("login_id", "password"), [("ab", "goodpass1"), ("root", "weak"), ("root", "nodigits!")])
def test_a_bad_admin_in_the_environment_fails_at_start(tmp_path, monkeypatch, login_id, password) -> None:
    monkeypatch.setenv("GLUTA_ADMIN_LOGIN_ID", login_id)
    monkeypatch.setenv("GLUTA_ADMIN_PASSWORD", password)
    with pytest.raises(ValidationError):
        make_settings(UserSettings, tmp_path)


@pytest.mark.dialects("sqlite")
async def test_the_admin_create_command_reads_the_password_from_stdin(start, login, tmp_path) -> None:
    env = {**os.environ, "GLUTA_DATA_DIR": str(tmp_path), "GLUTA_CONFIG_URL": "", "GLUTA_DISCOVERY_URL": "",
           "GLUTA_KEY_ENCRYPTION_SECRET": "test-key-secret"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gluta_user", "admin-create", "ops_lead", env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(b"Str0ng-enough\n"), timeout=60)
    assert process.returncode == 0, stderr.decode()
    assert "ops_lead" in stdout.decode() and "Str0ng-enough" not in stdout.decode()
    async with start() as (_, client):
        tokens = await login(client, "ops_lead", "Str0ng-enough", admin=True)
        assert tokens["member"]["role"] == "admin"
        member_login = await client.post("/login", json={"loginId": "ops_lead", "password": "Str0ng-enough"})
        assert member_login.status_code == 401, "an admin is not a member"


@pytest.fixture
def cli_env(tmp_path, monkeypatch) -> None:
    for name, value in {"GLUTA_DATA_DIR": str(tmp_path), "GLUTA_CONFIG_URL": "", "GLUTA_DISCOVERY_URL": "",
                        "GLUTA_ARGON2_TIME_COST": "1", "GLUTA_ARGON2_MEMORY_KIB": "64",
                        "GLUTA_KEY_ENCRYPTION_SECRET": "test-key-secret"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(cli, "setup_logging", lambda *args: None)


def test_admin_create_refuses_bad_input_and_duplicates(cli_env, tmp_path, capsys) -> None:
    assert cli.main(["admin-create", "Bad-Id"], stdin=io.StringIO("goodpass1\n")) == 2
    assert cli.main(["admin-create", "ops_lead"], stdin=io.StringIO("weak\n")) == 2
    assert cli.main(["admin-create", "ops_lead"], stdin=io.StringIO("")) == 2
    assert cli.main(["admin-create", "ops_lead"], stdin=io.StringIO("goodpass1\n")) == 0
    assert cli.main(["admin-create", "ops_lead"], stdin=io.StringIO("otherpass2\n")) == 1
    with sqlite3.connect(tmp_path / "db" / "user.db") as db:
        [(login_id, stored)] = db.execute("SELECT login_id, password_hash FROM admins").fetchall()
    assert login_id == "ops_lead" and stored.startswith("$argon2id$")
    assert "goodpass1" not in capsys.readouterr().out
