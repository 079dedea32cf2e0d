"""Only EdDSA tokens signed by a published key, for our audience and issuer, with every claim, pass."""

import base64
import json
import time

import jwt
import pytest

from gluta_kit.auth import TokenVerifier
from gluta_kit.errors import InvalidToken
from gluta_kit.testing import TestKeys


def make_verifier(keys: TestKeys) -> TokenVerifier:
    async def source() -> dict:
        return keys.jwks

    return TokenVerifier(source, issuer="gluta-user", audience="gluta")


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_valid_token_gives_the_principal() -> None:
    keys = TestKeys()
    principal = await make_verifier(keys).verify(keys.mint(42, "admin"))
    assert (principal.subject_id, principal.role, principal.is_admin) == (42, "admin", True)


@pytest.mark.parametrize(
    "overrides",
    [{"exp": int(time.time()) - 60}, {"aud": "someone-else"}, {"iss": "evil"}, {"role": "root"}, {"sub": "x"}],
    ids=["expired", "wrong-aud", "wrong-iss", "unknown-role", "bad-sub"],
)
async def test_bad_claims_are_refused(overrides: dict) -> None:
    keys = TestKeys()
    with pytest.raises(InvalidToken):
        await make_verifier(keys).verify(keys.mint(1, **overrides))


async def test_token_signed_with_another_key_is_refused() -> None:
    published, other = TestKeys(kid="k1"), TestKeys(kid="k1")
    with pytest.raises(InvalidToken):
        await make_verifier(published).verify(other.mint(1))


async def test_alg_none_is_refused() -> None:
    keys = TestKeys()
    now = int(time.time())
    claims = {"sub": "1", "role": "admin", "iss": "gluta-user", "aud": "gluta", "iat": now, "exp": now + 60,
              "jti": "x"}
    token = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': keys.kid})}.{b64(claims)}."
    with pytest.raises(InvalidToken):
        await make_verifier(keys).verify(token)


async def test_hs256_signed_with_the_public_key_is_refused() -> None:
    keys = TestKeys()
    public_x = keys.jwks["keys"][0]["x"]
    now = int(time.time())
    claims = {"sub": "1", "role": "admin", "iss": "gluta-user", "aud": "gluta", "iat": now, "exp": now + 60,
              "jti": "x"}
    import hashlib
    import hmac

    header = b64({"alg": "HS256", "typ": "JWT", "kid": keys.kid})
    body = b64(claims)
    signature = hmac.new(public_x.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    token = f"{header}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    with pytest.raises(InvalidToken):
        await make_verifier(keys).verify(token)


async def test_garbage_is_refused() -> None:
    with pytest.raises(InvalidToken):
        await make_verifier(TestKeys()).verify("not.a.token")


async def test_rotation_fetches_the_new_key_once() -> None:
    old, new = TestKeys(kid="old"), TestKeys(kid="new")
    published = {"keys": old.jwks["keys"]}
    calls = 0

    async def source() -> dict:
        nonlocal calls
        calls += 1
        return published

    verifier = TokenVerifier(source, issuer="gluta-user", audience="gluta", min_refresh_seconds=0)
    assert (await verifier.verify(old.mint(1))).subject_id == 1
    published = {"keys": old.jwks["keys"] + new.jwks["keys"]}
    assert (await verifier.verify(new.mint(2))).subject_id == 2
    assert (await verifier.verify(old.mint(3))).subject_id == 3  # old tokens still valid after rotation
    assert calls == 2


def test_pyjwt_refuses_none_even_if_asked() -> None:
    with pytest.raises(jwt.PyJWTError):
        jwt.decode("e30.e30.", algorithms=["EdDSA"], options={"verify_signature": True}, key="x")
