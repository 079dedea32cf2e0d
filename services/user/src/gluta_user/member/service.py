"""Members: sign-up, profile, password change, withdrawal (a soft delete)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gluta_contracts import MemberRegistered, MemberUpdated, MemberWithdrawn
from gluta_kit.errors import AppError
from gluta_kit.logging import get_logger
from gluta_user.auth.exceptions import InvalidCredentials, SessionEnded
from gluta_user.auth.service import apply_here, record_revocation, revoke_all
from gluta_user.context import UserContext
from gluta_user.member.exceptions import EmailTaken, LoginIdTaken
from gluta_user.member.models import Member
from gluta_user.member.schemas import MemberCreate, MemberRead, MemberUpdate
from gluta_user.recovery.models import PasswordResetToken

log = get_logger("gluta.user.member")

SIGNUP_SCOPE = "member-signup"


def email_key(email: str) -> str:
    """Return the form of an email address that must be unique among active members."""
    return email.strip().lower()


async def _conflict(session: AsyncSession, login_id: str, key: str | None, member_id: int | None = None
                    ) -> AppError | None:
    if login_id and await session.scalar(select(Member.member_id).where(Member.login_id == login_id)):
        return LoginIdTaken(f"the login id {login_id!r} is taken")
    if key is not None:
        query = select(Member.member_id).where(Member.email_key == key)
        if member_id is not None:
            query = query.where(Member.member_id != member_id)
        if await session.scalar(query):
            return EmailTaken("this email belongs to another member")
    return None


async def register(ctx: UserContext, data: MemberCreate, *, idempotency: tuple[str, str] | None = None
                   ) -> dict[str, Any]:
    """Create a member and announce it (MemberRegistered); return the `Member` answer."""
    password_hash = await ctx.hasher.hash(data.password)
    now = ctx.clock.now()
    key = email_key(data.email)
    async with ctx.uow() as uow:
        if idempotency is not None:
            first = await uow.recall(SIGNUP_SCOPE, idempotency[0], idempotency[1])
            if first is not None:
                return first
        conflict = await _conflict(uow.session, data.login_id, key)
        if conflict is not None:
            raise conflict
        member = Member(login_id=data.login_id, password_hash=password_hash, member_name=data.member_name,
                        phone_number=data.phone_number, email=data.email, email_key=key,
                        post_number=data.post_number, address=data.address, address_detail=data.address_detail,
                        created_at=now, updated_at=now)
        uow.session.add(member)
        try:
            await uow.session.flush()
            answer = MemberRead.model_validate(member).model_dump(mode="json", by_alias=True)
            uow.outbox.add(MemberRegistered(member_id=member.member_id, login_id=member.login_id,
                                            member_name=member.member_name, email=member.email))
            if idempotency is not None:
                uow.remember(SIGNUP_SCOPE, idempotency[0], idempotency[1], answer)
            await uow.commit()
        except IntegrityError:
            pass  # a concurrent sign-up took the id or the email (or sent the same idempotency key)
        else:
            log.info("member.registered", memberId=member.member_id)
            return answer
    async with ctx.uow() as uow:  # a rare path: look again at what won
        if idempotency is not None:
            first = await uow.recall(SIGNUP_SCOPE, idempotency[0], idempotency[1])
            if first is not None:
                return first
        conflict = await _conflict(uow.session, data.login_id, key)
    raise conflict or LoginIdTaken("the login id or email was taken at the same moment")


async def login_id_taken(ctx: UserContext, login_id: str) -> bool:
    """Return whether a login id is in use (or was, by a withdrawn member)."""
    async with ctx.db.read_sessions() as session:
        found = await session.scalar(select(Member.member_id).where(Member.login_id == login_id.strip().lower()))
    return found is not None


async def get_member(ctx: UserContext, member_id: int) -> MemberRead:
    """Return an active member."""
    async with ctx.db.read_sessions() as session:
        member = await session.get(Member, member_id)
    if member is None or member.withdrawn_at is not None:
        raise SessionEnded("this account no longer exists")
    return MemberRead.model_validate(member)


async def update_member(ctx: UserContext, member_id: int, data: MemberUpdate) -> MemberRead:
    """Replace a member's name and contact details; announce it (MemberUpdated)."""
    key = email_key(data.email)
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        conflict = await _conflict(uow.session, "", key, member_id=member_id)
        if conflict is not None:
            raise conflict
        changed = await uow.session.execute(
            update(Member).where(Member.member_id == member_id, Member.withdrawn_at.is_(None)).values(
                member_name=data.member_name, phone_number=data.phone_number, email=data.email, email_key=key,
                post_number=data.post_number, address=data.address, address_detail=data.address_detail,
                updated_at=now))
        if changed.rowcount != 1:
            raise SessionEnded("this account no longer exists")
        member = await uow.session.get(Member, member_id, populate_existing=True)
        assert member is not None
        uow.outbox.add(MemberUpdated(member_id=member_id, login_id=member.login_id, member_name=member.member_name,
                                     email=member.email))
        answer = MemberRead.model_validate(member)
        try:
            await uow.commit()
        except IntegrityError as exc:  # another member took the email at the same moment
            raise EmailTaken("this email belongs to another member") from exc
    return answer


async def _check_password(ctx: UserContext, member_id: int, password: str) -> Member:
    """Return the active member if `password` is theirs; counts as a login attempt for throttling."""
    async with ctx.db.read_sessions() as session:
        member = await session.get(Member, member_id)
    if member is None or member.withdrawn_at is not None:
        raise SessionEnded("this account no longer exists")
    attempt = await ctx.throttle.begin_attempt(ctx.throttle.keys(account=f"member:{member.login_id}", address=None))
    if not await ctx.hasher.verify(member.password_hash, password):
        raise InvalidCredentials("the password is wrong")
    await ctx.throttle.succeeded(attempt)
    return member


async def change_password(ctx: UserContext, member_id: int, current_password: str, new_password: str) -> None:
    """Replace the password after checking the current one (sessions stay open)."""
    member = await _check_password(ctx, member_id, current_password)
    new_hash = await ctx.hasher.hash(new_password)
    async with ctx.uow() as uow:
        changed = await uow.session.execute(
            update(Member).where(Member.member_id == member_id, Member.withdrawn_at.is_(None),
                                 Member.password_hash == member.password_hash)
            .values(password_hash=new_hash, updated_at=ctx.clock.now()))
        if changed.rowcount != 1:  # withdrawn, or the password changed meanwhile
            raise InvalidCredentials("the password is wrong")
        await uow.commit()


async def withdraw(ctx: UserContext, member_id: int, password: str) -> None:
    """Soft-delete a member: no more logins, every token dies, the login id stays taken, the email is freed."""
    member = await _check_password(ctx, member_id, password)
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        changed = await uow.session.execute(
            update(Member).where(Member.member_id == member_id, Member.withdrawn_at.is_(None))
            .values(withdrawn_at=now, email_key=None, token_valid_after=now, updated_at=now))
        if changed.rowcount != 1:
            raise SessionEnded("this account no longer exists")
        await revoke_all(uow.session, "member", member_id, now)
        # every access token it holds ends on every instance (none can be issued after this moment)
        entry = record_revocation(ctx, uow, role="member", subject_id=member_id,
                                  not_before=int(now.timestamp()) + 1)
        await uow.session.execute(update(PasswordResetToken).where(PasswordResetToken.member_id == member_id,
                                                                   PasswordResetToken.used_at.is_(None))
                                  .values(used_at=now))
        uow.outbox.add(MemberWithdrawn(member_id=member_id, login_id=member.login_id))
        await uow.commit()
    apply_here(ctx, [entry])
    log.info("member.withdrawn", memberId=member_id)
