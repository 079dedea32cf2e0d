"""Access-token verification against the user service's JWKS (no web framework: the gateway uses it too)."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gluta_kit.errors import InvalidToken

ALGORITHMS = ["EdDSA"]
REQUIRED_CLAIMS = ["exp", "iat", "sub", "role", "iss", "aud", "jti"]
ROLES = {"member", "admin"}

JwksSource = Callable[[], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a member or an admin, by id."""

    subject_id: int
    role: str
    token_id: str
    expires_at: float
    issued_at: int = 0
    session_id: str | None = None  # the refresh-token family the token was issued in (`sid`), if it says

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def member_id(self) -> int:
        return self.subject_id


class Revocations:
    """Access tokens ended before they expire: whole sessions (a refresh-token family: logout, a reused
    refresh token) and everything a member or admin was issued before a moment (withdrawal, password reset).

    Each entry is kept until the last token it covers has expired anyway (`expires_at`, epoch seconds).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._sessions: dict[str, float] = {}
        self._subjects: dict[tuple[str, int], tuple[int, float]] = {}
        self._pruned_at = 0.0

    def add(self, *, role: str, subject_id: int, expires_at: float, family_id: str | None = None,
            not_before: int | None = None) -> None:
        """Refuse from now on the session `family_id`, or the subject's tokens issued before `not_before`."""
        now = self._clock()
        if expires_at <= now:
            return
        if family_id:
            self._sessions[family_id] = max(expires_at, self._sessions.get(family_id, 0.0))
        if not_before is not None:
            key = (role, subject_id)
            known = self._subjects.get(key)
            if known is None or known[0] < not_before:
                self._subjects[key] = (not_before, max(expires_at, known[1] if known else 0.0))
        if now - self._pruned_at > 60:
            self._prune(now)

    def refuses(self, principal: Principal) -> bool:
        """Return whether a verified token belongs to an ended session or predates its subject's cut-off."""
        if principal.session_id is not None and principal.session_id in self._sessions:
            return True
        cut = self._subjects.get((principal.role, principal.subject_id))
        return cut is not None and principal.issued_at < cut[0]

    def _prune(self, now: float) -> None:
        self._sessions = {k: v for k, v in self._sessions.items() if v > now}
        self._subjects = {k: v for k, v in self._subjects.items() if v[1] > now}
        self._pruned_at = now

    def __len__(self) -> int:
        return len(self._sessions) + len(self._subjects)


class TokenVerifier:
    """Verify EdDSA access tokens with keys from a JWKS, refetched when an unknown key id shows up.

    A token that verifies is still refused when `revocations` holds its session or its subject's cut-off.
    """

    def __init__(self, jwks_source: JwksSource, *, issuer: str, audience: str, cache_size: int = 20_000,
                 min_refresh_seconds: float = 10.0) -> None:
        self._source = jwks_source
        self.issuer = issuer
        self.audience = audience
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._min_refresh = min_refresh_seconds
        self._lock = asyncio.Lock()
        self._cache: OrderedDict[str, Principal] = OrderedDict()
        self._cache_size = cache_size
        self.revocations = Revocations()

    async def _refresh(self, force: bool = False) -> None:
        async with self._lock:
            if not force and self._keys:
                return
            if self._keys and time.monotonic() - self._fetched_at < self._min_refresh:
                return
            try:
                jwks = await self._source()
            except Exception as exc:  # the signer is unreachable: keep the keys we have
                if not self._keys:
                    raise InvalidToken("signing keys are unavailable") from exc
                return
            import jwt

            keys = {}
            for entry in jwks.get("keys", []):
                if entry.get("kid") and entry.get("kty") == "OKP" and entry.get("crv") == "Ed25519":
                    keys[entry["kid"]] = jwt.PyJWK(entry, algorithm="EdDSA").key
            self._keys = keys
            self._fetched_at = time.monotonic()

    def set_keys(self, jwks: dict[str, Any]) -> None:
        """Install keys directly (the signing service itself, tests)."""
        import jwt

        self._keys = {e["kid"]: jwt.PyJWK(e, algorithm="EdDSA").key for e in jwks.get("keys", []) if e.get("kid")}
        self._fetched_at = time.monotonic()

    async def verify(self, token: str) -> Principal:
        """Return the principal of a valid token; raise InvalidToken otherwise."""
        import jwt  # imported on first use: services without authenticated routes never pay for it

        cached = self._cache.get(token)
        if cached is not None:
            if cached.expires_at > time.time():
                if self.revocations.refuses(cached):
                    raise InvalidToken("this session has ended; log in again")
                return cached
            self._cache.pop(token, None)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        if header.get("alg") not in ALGORITHMS:
            raise InvalidToken("token algorithm not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("token has no key id")
        if kid not in self._keys:
            await self._refresh(force=True)
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("token signed with an unknown key")
        try:
            claims = jwt.decode(token, key=key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer,
                                options={"require": REQUIRED_CLAIMS}, leeway=5)
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        role = claims.get("role")
        try:
            subject_id = int(claims["sub"])
        except (TypeError, ValueError) as exc:
            raise InvalidToken("bad subject") from exc
        if role not in ROLES:
            raise InvalidToken("unknown role")
        session_id = claims.get("sid")
        principal = Principal(subject_id=subject_id, role=role, token_id=str(claims["jti"]),
                              expires_at=float(claims["exp"]), issued_at=int(claims["iat"]),
                              session_id=session_id if isinstance(session_id, str) else None)
        self._cache[token] = principal
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        if self.revocations.refuses(principal):
            raise InvalidToken("this session has ended; log in again")
        return principal

    def forget(self, token: str) -> None:
        """Drop a token from the verification cache."""
        self._cache.pop(token, None)
