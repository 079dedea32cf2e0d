"""The role policy at the gateway: guests, members and admins; forged and stale tokens; unknown routes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gluta_kit.testing import TestKeys

pytestmark = pytest.mark.asyncio(loop_scope="module")

PRODUCT = "/api/product-service"
USER = "/api/user-service"
ORDER = "/api/order-service"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(keys: TestKeys, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "1", "role": "member", "iss": keys.issuer, "aud": keys.audience, "iat": now, "exp": now + 600,
            "jti": uuid.uuid4().hex, **overrides}


def _unsigned(keys: TestKeys) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": keys.kid}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(keys)).encode())}."


def _hs256_with_public_key(keys: TestKeys, encoding: Encoding, fmt: PublicFormat) -> str:
    header = {"alg": "HS256", "typ": "JWT", "kid": keys.kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(keys)).encode())}"
    secret = keys.private_key.public_key().public_bytes(encoding, fmt)
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_guests_members_and_admins_by_route(shared, gateway) -> None:
    gw = await gateway()
    keys = shared.keys
    member, admin = keys.bearer(7, "member"), keys.bearer(1, "admin")
    async with gw.client() as client:
        cases = [
            (await client.get(f"{PRODUCT}/types"), 200),  # guest route, no token
            (await client.get(f"{PRODUCT}/products/3", headers=member), 200),  # guest route, member token
            (await client.get(f"{USER}/members/me"), 401),
            (await client.get(f"{USER}/members/me", headers=member), 200),
            (await client.get(f"{USER}/members/me", headers=admin), 403),  # member-only route
            (await client.get(f"{ORDER}/members/me/coupons", headers=member), 200),
            (await client.get(f"{PRODUCT}/members/me/likes", headers=member), 200),
            (await client.get(f"{ORDER}/admin/dashboard/sales", headers=member), 403),
            (await client.get(f"{ORDER}/admin/dashboard/sales", headers=admin), 200),
            (await client.post(f"{PRODUCT}/products", json={}, headers=member), 403),
            (await client.post(f"{PRODUCT}/products", json={}, headers=admin), 200),
            (await client.post(f"{USER}/logout", json={}, headers=member), 200),  # member or admin
            (await client.post(f"{USER}/logout", json={}, headers=admin), 200),
            (await client.post(f"{USER}/logout", json={}), 401),
            (await client.post(f"{USER}/admin/login", json={}), 200),  # an /admin path open to guests
        ]
    assert [response.status_code for response, _ in cases] == [expected for _, expected in cases]
    refused = [response for response, expected in cases if expected >= 400]
    assert all(r.headers["content-type"] == "application/problem+json" for r in refused)
    assert {r.json()["code"] for r in refused} == {"UNAUTHORIZED", "FORBIDDEN"}


async def test_a_guest_route_passes_the_token_on_so_the_service_can_personalise(shared, gateway) -> None:
    gw = await gateway()
    token = shared.keys.mint(7)
    async with gw.client() as client:
        response = await client.get(f"{PRODUCT}/products/3", headers=_bearer(token))
    assert ["authorization", f"Bearer {token}"] in response.json()["headers"]


async def test_a_bad_token_on_a_guest_route_is_left_to_the_service(shared, gateway) -> None:
    gw = await gateway()
    async with gw.client() as client:
        response = await client.get(f"{PRODUCT}/products/3", headers=_bearer("not-a-token"))
    assert response.status_code == 200  # the stand-in does not check; real services answer 401 themselves
    assert ["authorization", "Bearer not-a-token"] in response.json()["headers"]


def _forged(keys: TestKeys) -> dict[str, dict[str, str]]:
    return {
        "expired": keys.bearer(7, expires_in=-60),
        "signed with another key": TestKeys().bearer(7),
        "another key under our key id": TestKeys(kid=keys.kid).bearer(7),
        "alg none": _bearer(_unsigned(keys)),
        "HS256 with the raw public key": _bearer(_hs256_with_public_key(keys, Encoding.Raw, PublicFormat.Raw)),
        "HS256 with the PEM public key": _bearer(
            _hs256_with_public_key(keys, Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)),
        "wrong audience": keys.bearer(7, aud="someone-else"),
        "wrong issuer": keys.bearer(7, iss="someone-else"),
        "unknown role": keys.bearer(7, role="root"),
        "not a number subject": keys.bearer(7, sub="seven"),
        "garbage": _bearer("a.b.c"),
        "not bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
        "bearer without a token": {"Authorization": "Bearer"},
    }


async def test_forged_and_stale_tokens_are_refused_at_the_gateway(shared, gateway) -> None:
    gw = await gateway()
    seen_before = len(shared.services["user"].seen)
    async with gw.client() as client:
        answers = {name: await client.get(f"{USER}/members/me", headers=headers)
                   for name, headers in _forged(shared.keys).items()}
    assert {name: r.status_code for name, r in answers.items()} == {name: 401 for name in answers}
    assert all(r.headers["content-type"] == "application/problem+json" for r in answers.values())
    assert len(shared.services["user"].seen) == seen_before  # none of them reached the service


@pytest.mark.parametrize(("method", "path"), [
    ("GET", f"{PRODUCT}/internal/stock/1"),
    ("POST", f"{ORDER}/internal/orders/1/confirm"),
    ("GET", f"{USER}/internal/status"),
    ("PATCH", f"{PRODUCT}/types"),
    ("GET", f"{PRODUCT}/health"),
    ("GET", f"{PRODUCT}/openapi.json"),
    ("GET", f"{USER}/members/me/likes"),
    ("GET", "/api/nope-service/types"),
    ("GET", "/api/product-service"),
    ("GET", "/api/types"),
])
async def test_routes_not_in_the_table_are_refused_and_never_proxied(shared, gateway, method, path) -> None:
    gw = await gateway()
    seen_before = {name: len(s.seen) for name, s in shared.services.items()}
    async with gw.client() as client:
        response = await client.request(method, path, headers=shared.keys.bearer(1, "admin"))
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert {name: len(s.seen) for name, s in shared.services.items()} == seen_before
