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


async def test_a_revoked_session_is_refused_even_from_the_cache_and_other_sessions_pass() -> None:
    keys = TestKeys()
    verifier = make_verifier(keys)
    now = int(time.time())
    ended, other = keys.mint(7, sid="family-a", iat=now), keys.mint(7, sid="family-b", iat=now)
    assert (await verifier.verify(ended)).session_id == "family-a"  # verified once: now in the cache
    verifier.revocations.add(role="member", subject_id=7, family_id="family-a", expires_at=now + 960)
    with pytest.raises(InvalidToken, match="session has ended"):
        await verifier.verify(ended)
    assert (await verifier.verify(other)).subject_id == 7


async def test_a_subjects_cut_off_refuses_its_older_tokens_only() -> None:
    keys = TestKeys()
    verifier = make_verifier(keys)
    now = int(time.time())
    verifier.revocations.add(role="member", subject_id=7, not_before=now, expires_at=now + 960)
    with pytest.raises(InvalidToken):
        await verifier.verify(keys.mint(7, iat=now - 1))
    assert (await verifier.verify(keys.mint(7, iat=now))).issued_at == now  # issued at the cut-off: lives
    assert (await verifier.verify(keys.mint(8, iat=now - 1))).subject_id == 8  # another member
    assert (await verifier.verify(keys.mint(7, "admin", iat=now - 1))).role == "admin"  # the admin with id 7


def test_revocations_forget_what_has_expired_anyway() -> None:
    from gluta_kit.tokens import Revocations

    clock = [1000.0]
    revocations = Revocations(clock=lambda: clock[0])
    revocations.add(role="member", subject_id=1, family_id="f", expires_at=1500)
    revocations.add(role="member", subject_id=2, not_before=990, expires_at=1500)
    revocations.add(role="member", subject_id=3, family_id="old", expires_at=900)  # already moot
    assert len(revocations) == 2
    clock[0] = 1600.0
    revocations.add(role="member", subject_id=4, family_id="g", expires_at=2500)  # a later add prunes
    assert len(revocations) == 1
