"""Argon2id hashing: the format and cost, verification, upgrades, and the event loop kept free."""

import asyncio
import threading
import time

from gluta_user.passwords import PasswordHasher

OWASP = {"time_cost": 2, "memory_kib": 19 * 1024, "parallelism": 1}


def test_hashes_are_argon2id_with_the_configured_cost() -> None:
    hasher = PasswordHasher(**OWASP)
    stored = hasher.hash_sync("secret123")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert hasher.verify_sync(stored, "secret123")
    assert not hasher.verify_sync(stored, "secret124")
    assert hasher.hash_sync("secret123") != stored, "every hash has its own salt"


def test_a_missing_or_broken_hash_never_verifies() -> None:
    hasher = PasswordHasher(time_cost=1, memory_kib=64, parallelism=1)
    assert not hasher.verify_sync(None, "not a password 0"), "the dummy hash's own password must not pass"
    assert not hasher.verify_sync("plain-text", "plain-text")
    assert not hasher.verify_sync("$argon2id$garbage", "x")


def test_hashes_with_other_parameters_need_a_rehash() -> None:
    cheap = PasswordHasher(time_cost=1, memory_kib=64, parallelism=1)
    strong = PasswordHasher(**OWASP)
    old = cheap.hash_sync("secret123")
    assert strong.needs_rehash(old) and not cheap.needs_rehash(old)
    assert strong.verify_sync(old, "secret123"), "old hashes still verify after the cost changes"


async def test_hashing_runs_off_the_event_loop() -> None:
    hasher = PasswordHasher(time_cost=1, memory_kib=64, parallelism=1)
    original = hasher.hash_sync
    inside, release = threading.Event(), threading.Event()
    threads: list[int] = []

    def held_hash(password: str) -> str:
        threads.append(threading.get_ident())
        inside.set()
        # only the event loop sets `release`: on the loop's own thread this would wait in vain
        assert release.wait(5), "the event loop could not run while a password was being hashed"
        return original(password)

    hasher.hash_sync = held_hash  # type: ignore[method-assign]
    task = asyncio.create_task(hasher.hash("secret123"))
    for _ in range(5000):
        if inside.is_set():
            break
        await asyncio.sleep(0.001)
    release.set()
    assert (await task).startswith("$argon2id$")
    assert threads and threads[0] != threading.get_ident()


async def test_at_most_max_concurrency_hashes_run_at_once() -> None:
    hasher = PasswordHasher(time_cost=1, memory_kib=64, parallelism=1, max_concurrency=2)
    running = peak = 0
    original = hasher.hash_sync

    def counting(password: str) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        time.sleep(0.02)
        running -= 1
        return original(password)

    hasher.hash_sync = counting  # type: ignore[method-assign]
    await asyncio.gather(*(hasher.hash(f"p{i}") for i in range(6)))
    assert peak == 2
