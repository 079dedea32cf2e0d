"""Argon2id password hashing, off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class PasswordHasher:
    """Hash and verify passwords with Argon2id; the CPU work runs in a worker thread."""

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int, max_concurrency: int = 2) -> None:
        # at most this many hashes at once: each takes `memory_kib` and a core; more would only queue in threads
        self._slots = asyncio.Semaphore(max_concurrency)
        self._hasher = Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism,
                                    type=Type.ID)
        # verified against when an account does not exist, so both paths cost the same
        self._dummy_hash = self._hasher.hash("not a password 0")

    @property
    def parameters(self) -> dict[str, int]:
        """Return the cost parameters new hashes get."""
        return {"time_cost": self._hasher.time_cost, "memory_kib": self._hasher.memory_cost,
                "parallelism": self._hasher.parallelism}

    def hash_sync(self, password: str) -> str:
        """Return an Argon2id hash of a password (blocking)."""
        return self._hasher.hash(password)

    def verify_sync(self, stored_hash: str | None, password: str) -> bool:
        """Return whether the password matches (blocking); a missing hash costs as much and is False."""
        try:
            return self._hasher.verify(stored_hash or self._dummy_hash, password) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def hash(self, password: str) -> str:
        """Return an Argon2id hash of a password."""
        async with self._slots:
            return await asyncio.to_thread(self.hash_sync, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Return whether the password matches the stored hash (None: an unknown account, always False)."""
        async with self._slots:
            return await asyncio.to_thread(self.verify_sync, stored_hash, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        """Return whether a hash was made with other parameters than today's."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True
