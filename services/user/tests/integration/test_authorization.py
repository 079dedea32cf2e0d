"""Tokens the service must refuse when called directly, and who may reach what.

There are no member-id routes for members: /members/me always acts on the verified token's subject,
so member A reaches member B only by forging B's token, which fails verification.
"""

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt

from gluta_kit.testing import TestKeys


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(obj: dict) -> str:
    return b64(json.dumps(obj).encode())


def claims_for(subject_id: int, role: str = "member", **overrides) -> dict:
    now = int(time.time())
    claims = {"sub": str(subject_id), "role": role, "iss": "gluta-user", "aud": "gluta", "iat": now,
              "exp": now + 600, "jti": uuid.uuid4().hex}
    claims.update(overrides)
    return claims


def service_key(app):
    """The service's own current signing key (to show that only the claims are wrong)."""
    key = app.state.user.keyring.current()
    return key.kid, key.private


def sign_as_service(app, claims: dict) -> str:
    kid, private = service_key(app)
    return jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": kid})


async def test_no_or_malformed_authorization_is_401(client) -> None:
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer not.a.jwt"},
                    {"Authorization": "Basic YWxpY2U6c2VjcmV0"}, {"Authorization": "Bearer " + "a" * 5000}):
        response = await client.get("/members/me", headers=headers)
        assert response.status_code == 401, headers


async def test_expired_token_is_401(client, signup, login, auth, clock) -> None:
    await signup(client, "alice")
    clock.advance(-3600)  # a token issued an hour ago has been expired for 45 minutes
    old = await login(client, "alice")
    clock.advance(3600)
    assert jwt.decode(old["accessToken"], options={"verify_signature": False})["exp"] < time.time()
    assert (await client.get("/members/me", headers=auth(old))).status_code == 401


async def test_token_signed_with_another_key_is_401(app, client, signup, auth) -> None:
    member = await signup(client, "alice")
    for kid in (service_key(app)[0], None):  # under the service's key id, and under a key id of its own
        forged = TestKeys(kid=kid).mint(member["memberId"])
        assert (await client.get("/members/me", headers=auth(forged))).status_code == 401


async def test_alg_none_is_401(app, client, signup, auth) -> None:
    member = await signup(client, "alice")
    kid = service_key(app)[0]
    token = f"{part({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{part(claims_for(member['memberId']))}."
    assert (await client.get("/members/me", headers=auth(token))).status_code == 401


async def test_hs256_signed_with_the_public_key_is_401(app, client, signup, auth) -> None:
    member = await signup(client, "alice")
    jwk = (await client.get("/.well-known/jwks.json")).json()["keys"][0]
    header = part({"alg": "HS256", "typ": "JWT", "kid": jwk["kid"]})
    body = part(claims_for(member["memberId"]))
    raw_public = base64.urlsafe_b64decode(jwk["x"] + "==")
    for secret in (jwk["x"].encode(), raw_public, json.dumps(jwk).encode()):
        signature = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
        token = f"{header}.{body}.{b64(signature)}"
        assert (await client.get("/members/me", headers=auth(token))).status_code == 401


async def test_wrong_claims_signed_with_the_real_key_are_401(app, client, signup, auth) -> None:
    member = await signup(client, "alice")
    for overrides in [{"aud": "someone-else"}, {"iss": "evil"}, {"role": "root"}, {"sub": "x"}]:
        token = sign_as_service(app, claims_for(member["memberId"], **overrides))
        assert (await client.get("/members/me", headers=auth(token))).status_code == 401, overrides
    control = sign_as_service(app, claims_for(member["memberId"]))
    assert (await client.get("/members/me", headers=auth(control))).status_code == 200


async def test_a_missing_claim_is_401(app, client, signup, auth) -> None:
    member = await signup(client, "alice")
    claims = claims_for(member["memberId"])
    del claims["jti"]
    assert (await client.get("/members/me", headers=auth(sign_as_service(app, claims)))).status_code == 401


async def test_a_forged_subject_fails_verification(client, signup, login, auth) -> None:
    await signup(client, "alice")
    bob = await signup(client, "bobby")
    token = (await login(client, "alice"))["accessToken"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = str(bob["memberId"])
    forged = f"{header}.{part(claims)}.{signature}"
    response = await client.get("/members/me", headers=auth(forged))
    assert response.status_code == 401
    changed = await client.put("/members/me", headers=auth(forged),
                               json={"memberName": "Pwned", "phoneNumber": "010-0000-0000", "email": "x@example.com"})
    assert changed.status_code == 401


async def test_members_me_acts_on_the_token_subject_only(client, signup, login, auth) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bobby")
    alice_tokens, bob_tokens = await login(client, "alice"), await login(client, "bobby")
    assert (await client.get("/members/me", headers=auth(alice_tokens))).json()["memberId"] == alice["memberId"]
    # body fields naming another member change nothing
    body = {"memberName": "Alice Changed", "phoneNumber": "010-9999-9999", "email": "alice2@example.com",
            "memberId": bob["memberId"], "loginId": "bobby"}
    response = await client.put("/members/me", json=body, headers=auth(alice_tokens))
    assert response.status_code == 200
    assert (response.json()["memberId"], response.json()["loginId"]) == (alice["memberId"], "alice")
    bob_now = (await client.get("/members/me", headers=auth(bob_tokens))).json()
    assert (bob_now["memberName"], bob_now["email"]) == ("Bobby", "bobby@example.com")
    # the password routes check the caller's own password
    wrong = await client.put("/members/me/password", headers=auth(alice_tokens),
                             json={"currentPassword": "not-bobs1", "newPassword": "another123"})
    assert wrong.status_code == 401
    assert (await client.post("/login", json={"loginId": "bobby", "password": "secret123"})).status_code == 200


async def test_a_token_for_a_member_that_does_not_exist_is_401(app, client, auth) -> None:
    token = sign_as_service(app, claims_for(987654))
    assert (await client.get("/members/me", headers=auth(token))).status_code == 401


def admin_routes(app) -> list[tuple[str, str]]:
    routes = []
    for path, methods in app.openapi()["paths"].items():
        if path.startswith("/admin/") and path != "/admin/login":
            routes.extend((method.upper(), path) for method in methods)
    return routes


async def test_a_member_token_on_every_admin_route_is_403(app, client, signup, login, auth) -> None:
    await signup(client, "alice")
    tokens = await login(client, "alice")
    routes = admin_routes(app)
    assert ("GET", "/admin/members") in routes
    for method, path in routes:
        response = await client.request(method, path, headers=auth(tokens))
        assert response.status_code == 403, (method, path)
        assert (await client.request(method, path)).status_code == 401, (method, path)


MEMBER_ROUTES = [("GET", "/members/me", None), ("PUT", "/members/me", {}), ("GET", "/members/me/summary", None),
                 ("PUT", "/members/me/password", {}), ("DELETE", "/members/me", {})]


async def test_an_admin_token_on_member_routes_is_403(start, login, auth) -> None:
    async with start(admin_login_id="boss", admin_password="boss1234!") as (_, client):
        tokens = await login(client, "boss", "boss1234!", admin=True)
        for method, path, body in MEMBER_ROUTES:
            response = await client.request(method, path, headers=auth(tokens), json=body)
            assert response.status_code in (403, 422), (method, path)
            if body is None or response.status_code == 403:
                continue
            full = {"memberName": "x", "phoneNumber": "010-1234-5678", "email": "x@example.com",
                    "currentPassword": "secret123", "newPassword": "secret1234", "password": "secret123"}
            assert (await client.request(method, path, headers=auth(tokens), json=full)).status_code == 403
