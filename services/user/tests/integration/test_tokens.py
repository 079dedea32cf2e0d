"""Refresh tokens: opaque, stored hashed, rotated on every use; reuse revokes the family; logout revokes."""

import asyncio
import hashlib

import pytest


async def _refresh(client, refresh_token: str):
    return await client.post("/token/refresh", json={"refreshToken": refresh_token})


async def test_refresh_rotates_the_refresh_token(client, signup, login, auth) -> None:
    member = await signup(client, "alice")
    first = await login(client, "alice")
    response = await _refresh(client, first["refreshToken"])
    assert response.status_code == 200
    second = response.json()
    assert second["refreshToken"] != first["refreshToken"]
    assert second["member"] == first["member"]
    me = await client.get("/members/me", headers=auth(second))
    assert me.json()["memberId"] == member["memberId"]
    assert (await _refresh(client, second["refreshToken"])).status_code == 200


async def test_an_used_refresh_token_stops_working_and_its_reuse_revokes_the_family(client, signup, login) -> None:
    await signup(client, "alice")
    stolen = await login(client, "alice")
    other_session = await login(client, "alice")
    rotated = (await _refresh(client, stolen["refreshToken"])).json()
    reuse = await _refresh(client, stolen["refreshToken"])
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "INVALID_TOKEN"
    assert (await _refresh(client, rotated["refreshToken"])).status_code == 401, "the whole family is revoked"
    assert (await _refresh(client, other_session["refreshToken"])).status_code == 200, "other sessions live on"


async def test_refresh_tokens_are_stored_as_sha256_only(app, client, signup, login, sql) -> None:
    await signup(client, "alice")
    tokens = await login(client, "alice")
    rows = await sql(app, "SELECT token_hash FROM refresh_tokens")
    hashes = {row[0] for row in rows}
    assert hashlib.sha256(tokens["refreshToken"].encode()).hexdigest() in hashes
    assert tokens["refreshToken"] not in hashes
    assert len(tokens["refreshToken"]) >= 43  # 256 random bits


async def test_unknown_refresh_tokens_are_401(client) -> None:
    for token in ["nonsense", "x" * 512, "é\u0000"]:
        response = await _refresh(client, token)
        assert response.status_code == 401
        assert response.json()["code"] == "INVALID_TOKEN"


@pytest.mark.dialects("sqlite")
async def test_malformed_refresh_is_422(client) -> None:
    for body in [{}, {"refreshToken": ""}, {"refreshToken": "x" * 513}, {"refreshToken": 5}]:
        assert (await client.post("/token/refresh", json=body)).status_code == 422, body


async def test_an_expired_refresh_token_is_401(client, signup, login, clock) -> None:
    await signup(client, "alice")
    tokens = await login(client, "alice")
    clock.advance(14 * 24 * 3600 + 1)
    assert (await _refresh(client, tokens["refreshToken"])).status_code == 401


async def test_logout_revokes_the_session(client, signup, login, auth) -> None:
    await signup(client, "alice")
    tokens = await login(client, "alice")
    rotated = (await _refresh(client, tokens["refreshToken"])).json()
    response = await client.post("/logout", json={"refreshToken": rotated["refreshToken"]}, headers=auth(rotated))
    assert response.status_code == 204
    assert (await _refresh(client, rotated["refreshToken"])).status_code == 401


async def test_logout_needs_a_token_and_ends_only_the_callers_sessions(client, signup, login, auth) -> None:
    await signup(client, "alice")
    await signup(client, "bobby")
    alice, bob = await login(client, "alice"), await login(client, "bobby")
    assert (await client.post("/logout", json={"refreshToken": bob["refreshToken"]})).status_code == 401
    foreign = await client.post("/logout", json={"refreshToken": bob["refreshToken"]}, headers=auth(alice))
    assert foreign.status_code == 204
    assert (await _refresh(client, bob["refreshToken"])).status_code == 200, "alice cannot end bob's session"


async def test_admins_refresh_and_log_out_too(start, login, auth) -> None:
    async with start(admin_login_id="boss", admin_password="boss1234!") as (_, client):
        tokens = await login(client, "boss", "boss1234!", admin=True)
        refreshed = await _refresh(client, tokens["refreshToken"])
        assert refreshed.status_code == 200 and refreshed.json()["member"]["role"] == "admin"
        new = refreshed.json()
        assert (await client.post("/logout", json={"refreshToken": new["refreshToken"]},
                                  headers=auth(new))).status_code == 204
        assert (await _refresh(client, new["refreshToken"])).status_code == 401


async def test_two_refreshes_with_one_token_at_once_count_as_reuse(client, signup, login) -> None:
    await signup(client, "alice")
    tokens = await login(client, "alice")
    answers = await asyncio.gather(*(_refresh(client, tokens["refreshToken"]) for _ in range(2)))
    assert sorted(a.status_code for a in answers) == [200, 401]
    [winner] = [a.json() for a in answers if a.status_code == 200]
    assert (await _refresh(client, winner["refreshToken"])).status_code == 401, "the family is revoked"
