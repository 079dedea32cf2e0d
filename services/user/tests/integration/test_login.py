"""Login of members and admins, the access token's form, and login throttling stored in the database."""

import asyncio

import jwt
import pytest

from gluta_kit.auth import TokenVerifier


async def test_login_answers_tokens(client, signup, login) -> None:
    member = await signup(client, "alice")
    tokens = await login(client, "alice")
    assert tokens["tokenType"] == "Bearer"
    assert tokens["expiresIn"] == 900
    assert tokens["refreshToken"] and tokens["accessToken"]
    assert tokens["member"] == {"memberId": member["memberId"], "loginId": "alice", "memberName": "Alice",
                                "role": "member"}


async def test_access_token_is_eddsa_with_a_published_kid_and_exactly_the_claims(client, signup, login) -> None:
    member = await signup(client, "alice")
    token = (await login(client, "alice"))["accessToken"]
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert header["alg"] == "EdDSA"
    assert header["kid"] in {key["kid"] for key in jwks["keys"]}
    assert set(claims) == {"sub", "role", "iss", "aud", "exp", "iat", "jti", "sid"}
    assert (claims["sub"], claims["role"], claims["iss"], claims["aud"]) == (
        str(member["memberId"]), "member", "gluta-user", "gluta")
    assert claims["exp"] - claims["iat"] == 15 * 60


async def test_the_kit_verifier_accepts_the_token_with_the_published_keys(client, signup, login) -> None:
    member = await signup(client, "alice")
    token = (await login(client, "alice"))["accessToken"]

    async def fetch_jwks() -> dict:
        return (await client.get("/.well-known/jwks.json")).json()

    verifier = TokenVerifier(fetch_jwks, issuer="gluta-user", audience="gluta")
    principal = await verifier.verify(token)
    assert (principal.subject_id, principal.role) == (member["memberId"], "member")
    jwks = await fetch_jwks()
    assert all("d" not in key for key in jwks["keys"]), "a private key part is published"
    assert all(key["kty"] == "OKP" and key["crv"] == "Ed25519" and key["kid"] for key in jwks["keys"])


async def test_wrong_password_and_unknown_login_id_answer_the_same(client, signup) -> None:
    await signup(client, "alice")
    wrong = await client.post("/login", json={"loginId": "alice", "password": "wrong1234"})
    unknown = await client.post("/login", json={"loginId": "nobody", "password": "wrong1234"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["code"] == "INVALID_CREDENTIALS"


@pytest.mark.dialects("sqlite")
async def test_malformed_login_is_422(client) -> None:
    for body in [{}, {"loginId": "alice"}, {"loginId": 1, "password": 2}, {"loginId": "a" * 65, "password": "x"},
                 {"loginId": "alice", "password": ""}, [], "text"]:
        assert (await client.post("/login", json=body)).status_code == 422, body
        assert (await client.post("/admin/login", json=body)).status_code == 422, body


async def test_admin_and_member_logins_are_separate(start, signup, login) -> None:
    async with start(admin_login_id="boss", admin_password="boss1234!") as (_, client):
        await signup(client, "alice")
        admin = await login(client, "boss", "boss1234!", admin=True)
        assert admin["member"]["role"] == "admin" and admin["member"]["loginId"] == "boss"
        claims = jwt.decode(admin["accessToken"], options={"verify_signature": False})
        assert claims["role"] == "admin" and claims["sub"] == str(admin["member"]["memberId"])
        member_on_admin = await client.post("/admin/login", json={"loginId": "alice", "password": "secret123"})
        admin_on_member = await client.post("/login", json={"loginId": "boss", "password": "boss1234!"})
        assert member_on_admin.status_code == admin_on_member.status_code == 401
        assert member_on_admin.json()["code"] == "INVALID_CREDENTIALS"


async def test_a_withdrawn_member_cannot_log_in(client, signup, login, auth) -> None:
    await signup(client, "alice")
    tokens = await login(client, "alice")
    gone = await client.request("DELETE", "/members/me", json={"password": "secret123"}, headers=auth(tokens))
    assert gone.status_code == 204
    again = await client.post("/login", json={"loginId": "alice", "password": "secret123"})
    assert again.status_code == 401 and again.json()["code"] == "INVALID_CREDENTIALS"


async def test_a_hash_with_old_parameters_is_upgraded_at_login(start, signup, sql) -> None:
    async with start(argon2_time_cost=1) as (_, client):
        await signup(client, "alice")
    async with start(argon2_time_cost=2) as (app, client):
        assert (await client.post("/login", json={"loginId": "alice", "password": "secret123"})).status_code == 200
        [(stored,)] = await sql(app, "SELECT password_hash FROM members WHERE login_id = 'alice'")
    assert ",t=2," in stored


# --- throttling ---------------------------------------------------------------------------------


async def _fail(client, login_id: str, headers: dict | None = None, path: str = "/login") -> int:
    response = await client.post(path, json={"loginId": login_id, "password": "wrong1234"}, headers=headers or {})
    return response.status_code


async def test_failures_for_one_login_id_get_429_with_retry_after(client, signup, clock) -> None:
    await signup(client, "alice")
    await signup(client, "bobby")
    assert [await _fail(client, "alice") for _ in range(5)] == [401] * 5
    locked = await client.post("/login", json={"loginId": "alice", "password": "secret123"})
    assert locked.status_code == 429, "the right password must not get through a lock"
    assert locked.json()["code"] == "TOO_MANY_REQUESTS"
    assert 1 <= int(locked.headers["Retry-After"]) <= 300
    other = await client.post("/login", json={"loginId": "bobby", "password": "secret123"})
    assert other.status_code == 200, "another account from the same address is not locked"
    clock.advance(301)
    unlocked = await client.post("/login", json={"loginId": "alice", "password": "secret123"})
    assert unlocked.status_code == 200


async def test_a_successful_login_resets_the_count(client, signup) -> None:
    await signup(client, "alice")
    assert [await _fail(client, "alice") for _ in range(4)] == [401] * 4
    assert (await client.post("/login", json={"loginId": "alice", "password": "secret123"})).status_code == 200
    assert [await _fail(client, "alice") for _ in range(5)] == [401] * 5
    assert await _fail(client, "alice") == 429


async def test_failures_from_one_address_get_429(start, signup) -> None:
    async with start(login_max_failures_per_address=4) as (_, client):
        await signup(client, "alice")
        attacker = {"X-Forwarded-For": "203.0.113.7, 10.0.0.1"}
        codes = [await _fail(client, f"user{i:02d}", attacker) for i in range(5)]
        assert codes == [401, 401, 401, 401, 429]
        locked = await client.post("/login", json={"loginId": "alice", "password": "secret123"}, headers=attacker)
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
        elsewhere = {"X-Forwarded-For": "198.51.100.1"}
        ok = await client.post("/login", json={"loginId": "alice", "password": "secret123"}, headers=elsewhere)
        assert ok.status_code == 200, "only the first hop of X-Forwarded-For is the client"
        assert await _fail(client, "someone") == 401, "without the header the peer address counts on its own"


async def test_admin_login_is_throttled_too(start) -> None:
    async with start(admin_login_id="boss", admin_password="boss1234!") as (_, client):
        codes = [await _fail(client, "boss", path="/admin/login") for _ in range(6)]
        assert codes == [401] * 5 + [429]


async def test_throttling_is_shared_by_every_instance(start, signup) -> None:
    async with start() as (_, first), start() as (_, second):
        await signup(first, "alice")
        for _ in range(5):
            assert await _fail(first, "alice") == 401
        locked = await second.post("/login", json={"loginId": "alice", "password": "secret123"})
        assert locked.status_code == 429


async def test_concurrent_guesses_cannot_exceed_the_limit(client, signup) -> None:
    await signup(client, "alice")
    codes = await asyncio.gather(*(_fail(client, "alice") for _ in range(12)))
    assert sorted(codes).count(401) == 5
    assert sorted(codes).count(429) == 7


async def test_concurrent_logins_from_one_address_all_succeed(client, signup) -> None:
    # many members behind one address (an office, a NAT) log in at once: nobody may get 429 or 500
    login_ids = [f"member{i:02d}" for i in range(12)]
    for login_id in login_ids:
        await signup(client, login_id)
    for _ in range(3):
        answers = await asyncio.gather(*(client.post("/login", json={"loginId": login_id, "password": "secret123"})
                                         for login_id in login_ids))
        assert [a.status_code for a in answers] == [200] * len(login_ids)
