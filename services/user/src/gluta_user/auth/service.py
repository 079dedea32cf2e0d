"""Login, refresh-token rotation with reuse detection, logout, and the session check behind every request."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gluta_contracts import TokensRevoked
from gluta_kit.auth import Principal
from gluta_kit.db import retry_transient
from gluta_kit.logging import get_logger
from gluta_kit.revocation import entry_of
from gluta_kit.uow import UnitOfWork
from gluta_user.admin.models import Admin
from gluta_user.auth.exceptions import InvalidCredentials, InvalidRefreshToken, SessionEnded
from gluta_user.auth.models import RefreshToken, TokenRevocation
from gluta_user.auth.schemas import TokensRead, TokenSubject
from gluta_user.context import UserContext
from gluta_user.member.models import Member

log = get_logger("gluta.user.auth")


def hash_token(raw: str) -> str:
    """Return the SHA-256 (hex) under which an opaque token is stored."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def new_opaque_token() -> str:
    """Return a random opaque token (256 bits)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Subject:
    """A member or an admin that tokens are issued to."""

    subject_id: int
    login_id: str
    name: str
    role: str


async def load_subject(session: AsyncSession, role: str, subject_id: int) -> Subject | None:
    """Return the active member or the admin behind a token, or None."""
    if role == "admin":
        admin = await session.get(Admin, subject_id)
        return Subject(admin.admin_id, admin.login_id, admin.admin_name, "admin") if admin else None
    member = await session.get(Member, subject_id)
    if member is None or member.withdrawn_at is not None:
        return None
    return Subject(member.member_id, member.login_id, member.member_name, "member")


async def issue_tokens(ctx: UserContext, session: AsyncSession, subject: Subject,
                       family_id: str | None = None) -> TokensRead:
    """Sign an access token and add a refresh token (a new family unless one is given) to the session."""
    now = ctx.clock.now()
    issued_at = int(now.timestamp())
    ttl = ctx.settings.access_token_ttl_seconds
    family_id = family_id or uuid.uuid4().hex
    access = await ctx.keyring.sign({
        "sub": str(subject.subject_id), "role": subject.role, "iss": ctx.settings.jwt_issuer,
        "aud": ctx.settings.jwt_audience, "iat": issued_at, "exp": issued_at + ttl, "jti": uuid.uuid4().hex,
        "sid": family_id,  # the session: a logout or a reused refresh token ends its access tokens everywhere
    })
    raw = new_opaque_token()
    session.add(RefreshToken(
        token_hash=hash_token(raw), family_id=family_id, role=subject.role,
        subject_id=subject.subject_id, issued_at=now,
        expires_at=now + timedelta(seconds=ctx.settings.refresh_token_ttl_seconds),
    ))
    return TokensRead(access_token=access, refresh_token=raw, expires_in=ttl,
                      member=TokenSubject(member_id=subject.subject_id, login_id=subject.login_id,
                                          member_name=subject.name, role=subject.role))


async def login(ctx: UserContext, *, role: str, login_id: str, password: str, address: str | None) -> TokensRead:
    """Check credentials of a member (`role="member"`) or an admin and start a session."""
    login_id = login_id.strip().lower()
    attempt = await ctx.throttle.begin_attempt(ctx.throttle.keys(account=f"{role}:{login_id}", address=address))
    async with ctx.db.read_sessions() as session:
        if role == "admin":
            admin = await session.scalar(select(Admin).where(Admin.login_id == login_id))
            subject = Subject(admin.admin_id, admin.login_id, admin.admin_name, "admin") if admin else None
            stored = admin.password_hash if admin else None
        else:
            member = await session.scalar(
                select(Member).where(Member.login_id == login_id, Member.withdrawn_at.is_(None)))
            subject = Subject(member.member_id, member.login_id, member.member_name, "member") if member else None
            stored = member.password_hash if member else None
    # an unknown account costs one Argon2 verification too, so timing does not tell it apart
    if not await ctx.hasher.verify(stored, password) or subject is None or stored is None:
        await ctx.throttle.failed(attempt)
        raise InvalidCredentials("wrong login id or password")
    upgraded = await ctx.hasher.hash(password) if ctx.hasher.needs_rehash(stored) else None
    async with ctx.uow() as uow:  # one transaction: counters cleared, hash upgraded, session started
        await ctx.throttle.clear(uow.session, attempt)
        if upgraded is not None:
            table = Admin if role == "admin" else Member
            id_column = Admin.admin_id if role == "admin" else Member.member_id
            await uow.session.execute(update(table).where(id_column == subject.subject_id)
                                      .values(password_hash=upgraded))
        tokens = await issue_tokens(ctx, uow.session, subject)
        await uow.commit()
    log.info("auth.login", role=role, subjectId=subject.subject_id)
    return tokens


async def refresh(ctx: UserContext, raw_token: str) -> TokensRead:
    """Use a refresh token once for new tokens; a second use of it revokes its whole family.

    Two uses at once may deadlock on MariaDB/MySQL (both lock the token's row and its family's index
    range); the loser's transaction is then run again, and sees the token used: the reuse path.
    """
    token_hash = hash_token(raw_token)
    now = ctx.clock.now()
    revoked: list[dict[str, Any]] = []

    async def work() -> TokensRead | None:
        revoked.clear()
        async with ctx.uow() as uow:
            session = uow.session
            used = await session.execute(
                update(RefreshToken)
                .where(RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None),
                       RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > now)
                .values(used_at=now))
            row = (await session.execute(
                select(RefreshToken.role, RefreshToken.subject_id, RefreshToken.family_id, RefreshToken.used_at,
                       RefreshToken.revoked_at).where(RefreshToken.token_hash == token_hash))).first()
            if used.rowcount == 1 and row is not None:
                subject = await load_subject(session, row.role, row.subject_id)
                if subject is not None:
                    tokens = await issue_tokens(ctx, session, subject, family_id=row.family_id)
                    await uow.commit()
                    return tokens
                await revoke_family(session, row.family_id, now)  # the member withdrew meanwhile
                await uow.commit()
            elif row is not None and row.used_at is not None and row.revoked_at is None:
                # a used token came back: it was stolen, or the legitimate holder's copy was; end the family,
                # its access tokens included, on every instance
                await revoke_family(session, row.family_id, now)
                revoked.append(record_revocation(ctx, uow, role=row.role, subject_id=row.subject_id,
                                                 family_id=row.family_id))
                await uow.commit()
                log.warning("auth.refresh_reuse", role=row.role, subjectId=row.subject_id, family=row.family_id)
        return None

    tokens = await retry_transient(work)
    apply_here(ctx, revoked)
    if tokens is None:
        raise InvalidRefreshToken("this refresh token is not valid")
    return tokens


def record_revocation(ctx: UserContext, uow: UnitOfWork, *, role: str, subject_id: int, family_id: str | None = None,
                      not_before: int | None = None) -> dict[str, Any]:
    """Record in the caller's transaction that access tokens end now (one session, or a subject's tokens
    issued before `not_before`), and announce it to every instance (`TokensRevoked`, through the outbox).

    Return the entry, for the caller to apply to this instance's verifier once committed (`apply_here`).
    """
    now = ctx.clock.now()
    # the last token it covers expires within the access-token lifetime (plus the verifiers' 5 s leeway)
    expires_at = now + timedelta(seconds=ctx.settings.access_token_ttl_seconds + 60)
    uow.session.add(TokenRevocation(role=role, subject_id=subject_id, family_id=family_id, not_before=not_before,
                                    created_at=now, expires_at=expires_at))
    event = TokensRevoked(role=role, subject_id=subject_id, family_id=family_id, not_before=not_before,
                          expires_at=int(expires_at.timestamp()) + 1)
    uow.outbox.add(event)
    return entry_of(event)


def apply_here(ctx: UserContext, entries: list[dict[str, Any]]) -> None:
    """Apply committed revocations to this instance at once (the others get the broadcast)."""
    if ctx.service is not None and ctx.service.revocations is not None:
        for entry in entries:
            ctx.service.revocations.apply(entry)


async def revocations_since(ctx: UserContext, since: float) -> dict[str, Any]:
    """Return the revocations recorded since `since` (epoch seconds) that still matter, and the time now."""
    now = ctx.clock.now()
    async with ctx.db.read_sessions() as session:
        rows = (await session.scalars(
            select(TokenRevocation).where(TokenRevocation.created_at >= datetime.fromtimestamp(since, UTC),
                                          TokenRevocation.expires_at > now)
            .order_by(TokenRevocation.id))).all()
    return {"now": now.timestamp(), "items": [
        {"role": r.role, "subjectId": r.subject_id, "familyId": r.family_id, "notBefore": r.not_before,
         "expiresAt": int(r.expires_at.timestamp()) + 1} for r in rows]}


async def revoke_family(session: AsyncSession, family_id: str, now: datetime) -> None:
    """Revoke every live token of one refresh-token family."""
    await session.execute(update(RefreshToken).where(RefreshToken.family_id == family_id,
                                                     RefreshToken.revoked_at.is_(None)).values(revoked_at=now))


async def revoke_all(session: AsyncSession, role: str, subject_id: int, now: datetime) -> None:
    """Revoke every refresh token of a member or admin."""
    await session.execute(update(RefreshToken).where(RefreshToken.role == role,
                                                     RefreshToken.subject_id == subject_id,
                                                     RefreshToken.revoked_at.is_(None)).values(revoked_at=now))


async def logout(ctx: UserContext, principal: Principal, raw_token: str) -> None:
    """End the session (refresh-token family) of this refresh token, if it is the caller's: its refresh tokens
    here, its access tokens on every instance of every service."""
    async with ctx.uow() as uow:
        family = await uow.session.scalar(
            select(RefreshToken.family_id).where(RefreshToken.token_hash == hash_token(raw_token),
                                                 RefreshToken.role == principal.role,
                                                 RefreshToken.subject_id == principal.subject_id))
        if family is None:
            return
        await revoke_family(uow.session, family, ctx.clock.now())
        entry = record_revocation(ctx, uow, role=principal.role, subject_id=principal.subject_id, family_id=family)
        await uow.commit()
    apply_here(ctx, [entry])


async def ensure_session_active(ctx: UserContext, principal: Principal, issued_at: int) -> None:
    """Refuse a verified access token whose member withdrew, or that was issued before a password reset."""
    async with ctx.db.read_sessions() as session:
        if principal.role == "admin":
            if await session.get(Admin, principal.subject_id) is None:
                raise SessionEnded("this account no longer exists")
            return
        row = (await session.execute(select(Member.withdrawn_at, Member.token_valid_after)
                                     .where(Member.member_id == principal.subject_id))).first()
    if row is None or row.withdrawn_at is not None:
        raise SessionEnded("this account no longer exists")
    if row.token_valid_after is not None and issued_at < int(row.token_valid_after.timestamp()):
        raise SessionEnded("this session has ended; log in again")
