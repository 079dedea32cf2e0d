"""Forged and stale tokens, at the gateway and at every service called directly; refresh-token reuse.

Every kind of bad access token gets 401 problem+json on a member route and an admin route through the
gateway, on a member route of each service called straight, and on a guest route that reads the token
(product detail personalises `liked`): a service refuses a bad token even where none is needed. The
attacker's tokens claim the owner's id, or an admin's role, and are built from what is public (the JWKS)
or from a real token of theirs; the ones signed with the real key (expired, wrong issuer, wrong audience)
stand for a token leaked or minted by another system that shares nothing but the key format.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

pytestmark = pytest.mark.e2e


def jwks(actors: Any) -> dict[str, Any]:
    return dict(actors.attack.ok(actors.attack.call("GET", "user", "/.well-known/jwks.json")))


def hmac_secrets(key: dict[str, Any]) -> list[bytes]:
    """What an attacker may try as the HMAC secret: the public key in each of its public forms."""
    raw = base64.urlsafe_b64decode(key["x"] + "=" * (-len(key["x"]) % 4))
    pem = Ed25519PublicKey.from_public_bytes(raw).public_bytes(serialization.Encoding.PEM,
                                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    return [raw, key["x"].encode(), pem, json.dumps(key).encode(), json.dumps({"keys": [key]}).encode()]


def forged_tokens(actors: Any) -> dict[str, str]:
    """Every bad token of the list, each claiming to be the owner (or an admin)."""
    attack, owner = actors.attack, actors.owner
    key = jwks(actors)["keys"][0]
    kid = key["kid"]
    claims = attack.claims(owner.member_id)
    admin_claims = attack.claims(owner.member_id, role="admin")
    now = int(time.time())
    head, _, rest = owner.token.partition(".")
    signature = rest.rpartition(".")[2]
    payload = base64.urlsafe_b64encode(json.dumps(admin_claims).encode()).rstrip(b"=").decode()
    tokens = {
        "alg none": attack.unsigned(claims, {"alg": "none", "typ": "JWT", "kid": kid}),
        "alg None": attack.unsigned(claims, {"alg": "None", "typ": "JWT", "kid": kid}),
        "alg none, admin": attack.unsigned(admin_claims, {"alg": "none", "kid": kid}),
        "EdDSA header, no signature": attack.unsigned(claims, {"alg": "EdDSA", "typ": "JWT", "kid": kid}),
        "expired": actors.expired,
        "expired long ago": attack.sign(attack.claims(owner.member_id, iat=now - 86_400, exp=now - 80_000)),
        "not yet valid (iat in an hour, nbf)": attack.sign(attack.claims(owner.member_id, iat=now + 3600,
                                                                         nbf=now + 3600)),
        "wrong issuer": attack.sign(attack.claims(owner.member_id, iss="evil-issuer")),
        "wrong audience": attack.sign(attack.claims(owner.member_id, aud="another-app")),
        "no audience": attack.sign(attack.claims(owner.member_id, aud=None)),
        "no expiry": attack.sign(attack.claims(owner.member_id, exp=None)),
        "unknown role": attack.sign(attack.claims(owner.member_id, role="superuser")),
        "payload swapped (admin role, the member's signature)": f"{head}.{payload}.{signature}",
        "signed by another Ed25519 key, same kid": jwt.encode(
            claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid}),
        "unknown kid": jwt.encode(
            claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "attacker-key"}),
        "garbage": "not.a.jwt",
        "empty segments": "..",
    }
    for n, secret in enumerate(hmac_secrets(key)):
        tokens[f"HS256 with the public key, form {n}"] = attack.hmac_signed(claims, secret, kid)
        tokens[f"HS256 with the public key, form {n}, admin"] = attack.hmac_signed(admin_claims, secret, kid)
    return tokens


# (service, method, path, through the gateway?) — member and admin routes, and a guest route that reads the token
PLACES = [
    ("order", "GET", "/cart", False), ("order", "GET", "/cart", True),
    ("user", "GET", "/members/me", False), ("user", "GET", "/members/me", True),
    ("product", "GET", "/members/me/likes", False), ("product", "GET", "/members/me/likes", True),
    ("user", "GET", "/admin/members", False), ("user", "GET", "/admin/members", True),
    ("order", "GET", "/admin/orders", False), ("product", "GET", "/admin/inquiries", True),
    ("product", "GET", "/products/{product}", False), ("product", "GET", "/products/{product}", True),
]


def test_every_forged_or_stale_token_is_refused_everywhere(actors: Any) -> None:
    attack = actors.attack
    accepted = []
    tokens = forged_tokens(actors)
    for name, token in tokens.items():
        for service, method, path, via_gateway in PLACES:
            path = path.format(product=actors.product_id)
            answer = attack.call(method, service, path, token, direct=not via_gateway)
            where = "gateway" if via_gateway else "direct"
            if answer.status_code != 401 or answer.headers["content-type"] != "application/problem+json":
                accepted.append(f"{name} → {method} {service}{path} ({where}): {answer.status_code} "
                                f"{answer.text[:120]}")
    assert not accepted, "\n".join(accepted)
    # the real tokens still work, so the refusals above are about the tokens
    assert attack.ok(attack.call("GET", "user", "/members/me", actors.owner.token))["memberId"] == \
        actors.owner.member_id
    assert attack.call("GET", "user", "/admin/members", actors.admin).status_code == 200
    assert len(tokens) >= 25


def test_a_refresh_token_used_twice_revokes_its_whole_family(actors: Any) -> None:
    attack = actors.attack
    member = attack.signup("fam")
    first = member.refresh
    second = attack.ok(attack.call("POST", "user", "/token/refresh", json={"refreshToken": first}))["refreshToken"]
    third = attack.ok(attack.call("POST", "user", "/token/refresh", json={"refreshToken": second}))["refreshToken"]

    replayed = attack.call("POST", "user", "/token/refresh", json={"refreshToken": first})  # the thief replays
    assert (replayed.status_code, replayed.json()["code"]) == (401, "INVALID_TOKEN")
    # the whole family ends: the newest token, held by the legitimate client, no longer works either
    latest = attack.call("POST", "user", "/token/refresh", json={"refreshToken": third})
    assert (latest.status_code, latest.json()["code"]) == (401, "INVALID_TOKEN")
    # another session of the same member (another family) is untouched
    other_session = attack.login(member.login_id)["refreshToken"]
    assert attack.call("POST", "user", "/token/refresh", json={"refreshToken": other_session}).status_code == 200
