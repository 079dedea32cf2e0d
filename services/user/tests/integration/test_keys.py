"""Signing keys live in the database, encrypted; rotation publishes the new key first and logs nobody out."""

import asyncio
import os
import sys
from datetime import UTC, datetime

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from gluta_kit.auth import TokenVerifier
from gluta_user.auth.keys import rotate_keys
from gluta_user.bootstrap import install_keys


def kid_of(tokens: dict) -> str:
    return jwt.get_unverified_header(tokens["accessToken"])["kid"]


async def published(client) -> list[str]:
    return [key["kid"] for key in (await client.get("/.well-known/jwks.json")).json()["keys"]]


async def test_private_keys_are_stored_encrypted(app, client, sql) -> None:
    [(kid, pem)] = await sql(app, "SELECT kid, private_key_pem FROM signing_keys")
    assert pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises((TypeError, ValueError)):
        serialization.load_pem_private_key(pem.encode(), password=None)
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(pem.encode(), password=b"another secret")
    serialization.load_pem_private_key(pem.encode(), password=b"test-key-secret")
    assert await published(client) == [kid]


async def test_rotation_publishes_first_signs_later_and_keeps_old_tokens_valid(start, signup, login, auth,
                                                                              clock) -> None:
    clock.advance(-600)  # room to move forward without minting tokens dated in the future
    async with start() as (app, client):
        await _rotation(app, client, signup, login, auth, clock)


async def _rotation(app, client, signup, login, auth, clock) -> None:
    ctx = app.state.user
    await signup(client, "alice")
    before = await login(client, "alice")
    old_kid = kid_of(before)

    new = await rotate_keys(ctx.db, b"test-key-secret", clock, lead_seconds=30)
    await install_keys(ctx)  # what every instance's periodic reload does
    assert set(await published(client)) == {old_kid, new.kid}, "the new key is published before it signs"
    assert kid_of(await login(client, "alice")) == old_kid, "during the lead time the old key still signs"

    clock.advance(31)
    after = await login(client, "alice")
    assert kid_of(after) == new.kid
    for tokens in (before, after):
        assert (await client.get("/members/me", headers=auth(tokens))).status_code == 200, "nobody is logged out"

    async def jwks() -> dict:
        return (await client.get("/.well-known/jwks.json")).json()

    other_service = TokenVerifier(jwks, issuer="gluta-user", audience="gluta")
    for tokens in (before, after):
        assert (await other_service.verify(tokens["accessToken"])).role == "member"

    clock.advance(15 * 60 + 120 + 1)  # the old key's last token expired (plus the grace margin)
    await install_keys(ctx)
    assert await published(client) == [new.kid]


async def test_running_instances_pick_up_a_rotation_by_themselves(start, signup, login) -> None:
    async with start(key_reload_seconds=0.05) as (app, client):
        await signup(client, "alice")
        ctx = app.state.user
        new = await rotate_keys(ctx.db, b"test-key-secret", ctx.clock, lead_seconds=0)
        for _ in range(100):
            if new.kid in await published(client):
                break
            await _pause()
        assert new.kid in await published(client)
        assert kid_of(await login(client, "alice")) == new.kid


async def _pause() -> None:
    await asyncio.sleep(0.05)


@pytest.mark.dialects("sqlite")
async def test_an_instance_verifies_a_key_another_instance_just_made(start, signup, login, auth) -> None:
    async with start() as (first_app, first), start() as (_, second):
        await signup(first, "alice")
        ctx = first_app.state.user
        new = await rotate_keys(ctx.db, b"test-key-secret", ctx.clock, lead_seconds=0)
        await install_keys(ctx)
        tokens = await login(first, "alice")
        assert kid_of(tokens) == new.kid
        await asyncio.sleep(1.1)  # the verifier looks keys up again at most once a second
        assert (await second.get("/members/me", headers=auth(tokens))).status_code == 200


async def test_a_restart_keeps_the_keys(start, signup, login, auth) -> None:
    async with start() as (_, client):
        await signup(client, "alice")
        tokens = await login(client, "alice")
    async with start() as (_, client):
        assert (await client.get("/members/me", headers=auth(tokens))).status_code == 200


async def test_a_changed_secret_starts_a_new_key_and_keeps_the_old_one_published(start, signup, login) -> None:
    async with start() as (_, client):
        await signup(client, "alice")
        old_kid = kid_of(await login(client, "alice"))
    async with start(key_encryption_secret="a different secret") as (_, client):
        new_kid = kid_of(await login(client, "alice"))
        assert new_kid != old_kid
        assert set(await published(client)) == {old_kid, new_kid}


@pytest.mark.dialects("sqlite")
async def test_the_rotate_keys_command(app, client, settings, signup, login, auth, tmp_path, clock) -> None:
    await signup(client, "alice")
    before = await login(client, "alice")
    env = {**os.environ, "GLUTA_DATA_DIR": str(tmp_path), "GLUTA_DATABASE_URL": settings.resolved_database_url,
           "GLUTA_KEY_ENCRYPTION_SECRET": "test-key-secret", "GLUTA_CONFIG_URL": "", "GLUTA_DISCOVERY_URL": ""}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gluta_user", "rotate-keys", "--now", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    assert "new signing key" in stdout.decode()
    clock.set(datetime.now(UTC))  # the command ran on the system clock
    await install_keys(app.state.user)
    assert len(await published(client)) == 2
    after = await login(client, "alice")
    assert kid_of(after) != kid_of(before)
    assert (await client.get("/members/me", headers=auth(before))).status_code == 200
