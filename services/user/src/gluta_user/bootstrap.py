"""Composition root: builds the user service's context and what runs at start (keys, admin, demo data)."""

from __future__ import annotations

import asyncio
import json
import os
from contextlib import suppress
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select

from gluta_kit.db import Database
from gluta_kit.logging import get_logger
from gluta_kit.service import Service
from gluta_user.admin.service import ensure_admin
from gluta_user.auth.keys import KeyRing, purge_keys, resolve_secret
from gluta_user.auth.models import RefreshToken, TokenRevocation
from gluta_user.auth.throttle import LoginThrottle, RedisLoginThrottle
from gluta_user.clock import Clock, SystemClock
from gluta_user.context import UserContext, unit_of_work_factory
from gluta_user.mail import Mailer, build_mailer
from gluta_user.member.exceptions import EmailTaken, LoginIdTaken
from gluta_user.member.models import Member
from gluta_user.member.schemas import MemberCreate
from gluta_user.member.service import register
from gluta_user.passwords import PasswordHasher
from gluta_user.recovery.models import PasswordResetToken
from gluta_user.settings import UserSettings

log = get_logger("gluta.user.bootstrap")

DEMO_MEMBER = MemberCreate(login_id="demo", password="demo1234!", member_name="Demo Member",
                           phone_number="010-1234-5678", email="demo@example.com", post_number="06236",
                           address="Teheran-ro 123, Gangnam-gu, Seoul", address_detail="4F")
DEMO_ADMIN = ("admin", "admin1234!")
DEMO_ACCOUNTS_FILE = "demo-accounts.json"


def build_hasher(settings: UserSettings) -> PasswordHasher:
    """Return the Argon2id hasher with the configured cost."""
    return PasswordHasher(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib,
                          parallelism=settings.argon2_parallelism, max_concurrency=settings.argon2_max_concurrency)


def build_context(settings: UserSettings, db: Database, *, clock: Clock | None = None, mailer: Mailer | None = None,
                  service: Service | None = None) -> UserContext:
    """Build the context every user-service function works with."""
    clock = clock or SystemClock()
    new_uow = unit_of_work_factory(db)
    keyring = KeyRing(db, secret=resolve_secret(settings), clock=clock,
                      access_ttl_seconds=settings.access_token_ttl_seconds,
                      publish_grace_seconds=settings.key_publish_grace_seconds)
    return UserContext(
        settings=settings, db=db, clock=clock, hasher=build_hasher(settings), keyring=keyring,
        throttle=(RedisLoginThrottle(db, clock, settings, new_uow) if settings.redis_url
                  else LoginThrottle(db, clock, settings, new_uow)),
        mailer=mailer or build_mailer(settings.smtp_url, Path(settings.data_dir), settings.mail_timeout_seconds),
        service=service, new_uow=new_uow,
    )


async def install_keys(ctx: UserContext) -> None:
    """Reload the signing keys and let this service verify its own tokens without HTTP."""
    await ctx.keyring.load()
    if ctx.service is not None:
        ctx.service.verifier.set_keys(ctx.keyring.jwks())


async def seed_demo(ctx: UserContext) -> None:
    """Create the demo member (through sign-up, so MemberRegistered goes out) and demo admin; list them."""
    async with ctx.db.read_sessions() as session:
        exists = await session.scalar(select(Member.member_id).where(Member.login_id == DEMO_MEMBER.login_id))
    if exists is None:
        with suppress(LoginIdTaken, EmailTaken):  # another instance seeded it at the same moment
            await register(ctx, DEMO_MEMBER)
    await ensure_admin(ctx.db, ctx.hasher, ctx.clock, *DEMO_ADMIN)
    accounts = [
        {"role": "member", "loginId": DEMO_MEMBER.login_id, "password": DEMO_MEMBER.password},
        {"role": "admin", "loginId": DEMO_ADMIN[0], "password": DEMO_ADMIN[1]},
    ]
    write_demo_accounts(Path(ctx.settings.data_dir), accounts)
    log.info("demo.seeded", accounts=[a["loginId"] for a in accounts])


def write_demo_accounts(data_dir: Path, accounts: list[dict[str, str]]) -> None:
    """Write `<data_dir>/demo-accounts.json` (read by `make run` to print the demo logins)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    temporary = data_dir / f".{DEMO_ACCOUNTS_FILE}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(accounts, indent=2), encoding="utf-8")
    os.replace(temporary, data_dir / DEMO_ACCOUNTS_FILE)


async def purge_expired(ctx: UserContext, keep_seconds: float = 24 * 3600) -> None:
    """Delete refresh and reset tokens, revocations, throttle counters and keys that stopped mattering a while ago."""
    cutoff = ctx.clock.now() - timedelta(seconds=keep_seconds)
    async with ctx.uow() as uow:
        await uow.session.execute(delete(RefreshToken).where(RefreshToken.expires_at < cutoff))
        await uow.session.execute(delete(PasswordResetToken).where(PasswordResetToken.expires_at < cutoff))
        await uow.session.execute(delete(TokenRevocation).where(TokenRevocation.expires_at < cutoff))
        await uow.commit()
    await ctx.throttle.purge(keep_seconds)
    await purge_keys(ctx.db, ctx.clock, ctx.keyring.publish_seconds_after_retirement + keep_seconds)


async def _every(seconds: float, work: object, name: str) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await work()  # type: ignore[operator]
        except Exception as exc:  # the database may be down for a moment: try again next round
            log.warning(f"{name}.failed", error=repr(exc))


def install(service: Service, ctx: UserContext) -> None:
    """Register the start and stop hooks of the user service."""
    tasks: list[asyncio.Task[None]] = []
    settings = ctx.settings

    async def on_start() -> None:
        await ctx.keyring.ensure()
        await install_keys(ctx)
        if settings.admin_login_id and settings.admin_password:
            await ensure_admin(ctx.db, ctx.hasher, ctx.clock, settings.admin_login_id.strip().lower(),
                               settings.admin_password.get_secret_value())
        if settings.demo:
            await seed_demo(ctx)
        tasks.append(asyncio.create_task(_every(settings.key_reload_seconds, lambda: install_keys(ctx), "keys.reload")))
        tasks.append(asyncio.create_task(_every(settings.janitor_interval_seconds, lambda: purge_expired(ctx),
                                                "janitor")))

    async def on_stop() -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task
        tasks.clear()
        if isinstance(ctx.throttle, RedisLoginThrottle):
            await ctx.throttle.close()

    service.on_start.append(on_start)
    service.on_stop.append(on_stop)
