"""Ed25519 signing keys kept in the database, encrypted, rotated without logging anyone out.

A rotation adds a key that starts signing `key_rotation_lead_seconds` later (so every instance and every
verifier's JWKS has it before the first token it signs arrives) and retires the previous one at that moment.
A retired key stays published until the last access token it signed has expired.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select, update

from gluta_kit.db import Database
from gluta_kit.logging import get_logger
from gluta_kit.uow import UnitOfWork
from gluta_user.auth.models import SigningKey
from gluta_user.clock import Clock
from gluta_user.settings import UserSettings

log = get_logger("gluta.user.keys")

SECRET_FILE = "user-signing-keys.secret"


class NoSigningKey(RuntimeError):
    """No key can sign right now (it cannot be decrypted, or none exists)."""


def resolve_secret(settings: UserSettings) -> bytes:
    """Return the secret that encrypts private keys: the setting, else (not in production) a local file."""
    if settings.key_encryption_secret is not None and settings.key_encryption_secret.get_secret_value():
        return settings.key_encryption_secret.get_secret_value().encode()
    if settings.profile == "production":
        raise RuntimeError("GLUTA_KEY_ENCRYPTION_SECRET must be set in production")
    path = Path(settings.data_dir) / "secrets" / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        value = secrets.token_urlsafe(32).encode()
        fh.write(value)
    log.warning("keys.local_secret_created", path=str(path))
    return value


def generate_key_row(secret: bytes, *, now: datetime, signs_from: datetime) -> SigningKey:
    """Return a new key pair as a row, its private half encrypted with `secret`."""
    private = Ed25519PrivateKey.generate()
    kid = secrets.token_hex(8)
    public = jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    jwk = {**public, "kid": kid, "use": "sig", "alg": "EdDSA"}
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(secret))
    return SigningKey(kid=kid, public_jwk=json.dumps(jwk), private_key_pem=pem.decode(), created_at=now,
                      signs_from=signs_from, retired_at=None)


async def rotate_keys(db: Database, secret: bytes, clock: Clock, lead_seconds: float) -> SigningKey:
    """Add a key that signs from `now + lead`; retire every current key at that moment."""
    now = clock.now()
    row = generate_key_row(secret, now=now, signs_from=now + timedelta(seconds=lead_seconds))
    async with UnitOfWork(db) as uow:
        await uow.session.execute(
            update(SigningKey).where(SigningKey.retired_at.is_(None)).values(retired_at=row.signs_from))
        uow.session.add(row)
        await uow.commit()
    log.info("keys.rotated", kid=row.kid, signsFrom=row.signs_from.isoformat())
    return row


async def purge_keys(db: Database, clock: Clock, keep_seconds: float) -> int:
    """Delete keys retired longer ago than `keep_seconds` (no token they signed is still valid)."""
    async with UnitOfWork(db) as uow:
        result = await uow.session.execute(
            delete(SigningKey).where(SigningKey.retired_at.is_not(None),
                                     SigningKey.retired_at < clock.now() - timedelta(seconds=keep_seconds)))
        await uow.commit()
        return int(result.rowcount or 0)


@dataclass
class LoadedKey:
    """A key as read from the database."""

    kid: str
    jwk: dict[str, Any]
    encrypted_pem: str
    signs_from: datetime
    retired_at: datetime | None
    private: Ed25519PrivateKey | None = field(default=None, repr=False)
    undecryptable: bool = False


class KeyRing:
    """The keys this process signs with and publishes, read from the database and reloaded periodically."""

    def __init__(self, db: Database, *, secret: bytes, clock: Clock, access_ttl_seconds: float,
                 publish_grace_seconds: float) -> None:
        self.db = db
        self._secret = secret
        self.clock = clock
        self.access_ttl = access_ttl_seconds
        self.grace = publish_grace_seconds
        self._keys: list[LoadedKey] = []

    @property
    def publish_seconds_after_retirement(self) -> float:
        """How long a retired key stays published: its last tokens' lifetime plus a margin."""
        return self.access_ttl + self.grace

    async def load(self) -> None:
        """Read every key from the database (private halves are decrypted once, when needed)."""
        async with self.db.read_sessions() as session:
            rows = (await session.scalars(select(SigningKey).order_by(SigningKey.signs_from))).all()
        known = {k.kid: k for k in self._keys}
        keys = []
        for row in rows:
            previous = known.get(row.kid)
            key = LoadedKey(row.kid, json.loads(row.public_jwk), row.private_key_pem, row.signs_from, row.retired_at)
            if previous is not None:
                key.private, key.undecryptable = previous.private, previous.undecryptable
            keys.append(key)
        self._keys = keys

    async def ensure(self) -> None:
        """Load the keys; create one that signs now when none can (first start, or a changed secret)."""
        await self.load()
        now = self.clock.now()
        usable_later = [k for k in self._keys if k.retired_at is None and self._decrypt(k) is not None]
        if self.current() is None and not usable_later:
            row = generate_key_row(self._secret, now=now, signs_from=now)
            async with UnitOfWork(self.db) as uow:
                await uow.session.execute(
                    update(SigningKey).where(SigningKey.retired_at.is_(None)).values(retired_at=now))
                uow.session.add(row)
                await uow.commit()
            log.info("keys.created", kid=row.kid)
            await self.load()

    def _decrypt(self, key: LoadedKey) -> Ed25519PrivateKey | None:
        if key.private is None and not key.undecryptable:
            try:
                loaded = serialization.load_pem_private_key(key.encrypted_pem.encode(), self._secret)
            except (ValueError, TypeError):
                log.error("keys.undecryptable", kid=key.kid)
                key.undecryptable = True
                return None
            if not isinstance(loaded, Ed25519PrivateKey):
                key.undecryptable = True
                return None
            key.private = loaded
        return key.private

    def current(self) -> LoadedKey | None:
        """Return the key that signs now: the newest one whose time has come and that is not retired."""
        now = self.clock.now()
        live = [k for k in self._keys if (k.retired_at is None or k.retired_at > now) and self._decrypt(k) is not None]
        due = [k for k in live if k.signs_from <= now]
        if due:
            return due[-1]
        # this instance's clock is behind the one that made the key: sign with the next key, already published
        return live[0] if live else None

    def published(self) -> list[LoadedKey]:
        """Return the keys whose tokens may still be valid, and the ones about to sign."""
        limit = self.clock.now() - timedelta(seconds=self.publish_seconds_after_retirement)
        return [k for k in self._keys if k.retired_at is None or k.retired_at > limit]

    def jwks(self) -> dict[str, Any]:
        """Return the published public keys as a JWKS document."""
        return {"keys": [k.jwk for k in self.published()]}

    async def sign(self, claims: dict[str, Any]) -> str:
        """Sign claims with the current key (reloading first when this process has none yet)."""
        key = self.current()
        if key is None:
            await self.ensure()
            key = self.current()
        if key is None or key.private is None:
            raise NoSigningKey("no signing key can be used")
        return jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": key.kid})
