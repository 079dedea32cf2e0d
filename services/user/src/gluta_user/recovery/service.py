"""Find the login id and reset the password by mail, without telling whether an account exists.

Both requests do the same work for a known and an unknown account (a token is drawn and hashed, the mail
is composed) and answer the same; only a known account gets the mail, sent after the answer.
"""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import quote

from sqlalchemy import select, update

from gluta_kit.logging import get_logger
from gluta_user.auth.service import apply_here, hash_token, new_opaque_token, record_revocation, revoke_all
from gluta_user.auth.throttle import Attempt
from gluta_user.context import UserContext
from gluta_user.mail import compose
from gluta_user.member.models import Member
from gluta_user.member.service import email_key
from gluta_user.recovery.exceptions import InvalidResetToken
from gluta_user.recovery.models import PasswordResetToken

log = get_logger("gluta.user.recovery")


def _login_id_mail(ctx: UserContext, to: str, name: str, login_id: str) -> EmailMessage:
    text = (f"Hello {name},\n\nThe login id of the Glutathione account registered with this address is:\n\n"
            f"    {login_id}\n\nLog in at {ctx.settings.storefront_url.rstrip('/')}/login\n\n"
            "If you did not ask for this, you can ignore this mail.\n")
    return compose(sender=ctx.settings.mail_from, to=to, subject="[Glutathione] Your login id", text=text)


def _reset_mail(ctx: UserContext, to: str, name: str, token: str) -> EmailMessage:
    link = f"{ctx.settings.storefront_url.rstrip('/')}/password-reset?token={quote(token)}"
    minutes = ctx.settings.reset_token_ttl_seconds // 60
    text = (f"Hello {name},\n\nTo choose a new password, open this link within {minutes} minutes:\n\n"
            f"    {link}\n\nThe link works once. If you did not ask for this, ignore this mail: "
            "your password stays as it is.\n")
    return compose(sender=ctx.settings.mail_from, to=to, subject="[Glutathione] Reset your password", text=text)


async def find_login_id(ctx: UserContext, email: str) -> EmailMessage | None:
    """Return the mail that tells the login id to the owner of `email`, or None when no member has it."""
    async with ctx.db.read_sessions() as session:
        member = await session.scalar(select(Member).where(Member.email_key == email_key(email),
                                                           Member.withdrawn_at.is_(None)))
    message = _login_id_mail(ctx, email, member.member_name if member else "member",
                             member.login_id if member else "unknown")
    return message if member is not None else None


async def request_password_reset(ctx: UserContext, login_id: str, email: str) -> EmailMessage | None:
    """Store a one-time reset token for the member with this login id and email; return its mail, or None."""
    token = new_opaque_token()
    token_hash = hash_token(token)
    now = ctx.clock.now()
    async with ctx.db.read_sessions() as session:
        member = await session.scalar(select(Member).where(Member.login_id == login_id.strip().lower(),
                                                           Member.email_key == email_key(email),
                                                           Member.withdrawn_at.is_(None)))
    message = _reset_mail(ctx, email, member.member_name if member else "member", token)
    if member is None:
        return None
    async with ctx.uow() as uow:
        # only the newest link works
        await uow.session.execute(update(PasswordResetToken).where(PasswordResetToken.member_id == member.member_id,
                                                                   PasswordResetToken.used_at.is_(None))
                                  .values(used_at=now))
        uow.session.add(PasswordResetToken(token_hash=token_hash, member_id=member.member_id, created_at=now,
                                           expires_at=now + timedelta(seconds=ctx.settings.reset_token_ttl_seconds)))
        await uow.commit()
    log.info("recovery.reset_requested", memberId=member.member_id)
    return message


async def confirm_password_reset(ctx: UserContext, token: str, new_password: str) -> None:
    """Set a new password with a reset token (once, before it expires); end every session of the member."""
    new_hash = await ctx.hasher.hash(new_password)
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        session = uow.session
        token_hash = hash_token(token)
        used = await session.execute(
            update(PasswordResetToken)
            .where(PasswordResetToken.token_hash == token_hash, PasswordResetToken.used_at.is_(None),
                   PasswordResetToken.expires_at > now)
            .values(used_at=now))
        if used.rowcount != 1:
            raise InvalidResetToken("this reset link is invalid, used or expired")
        member_id = await session.scalar(select(PasswordResetToken.member_id)
                                         .where(PasswordResetToken.token_hash == token_hash))
        changed = await session.execute(
            update(Member).where(Member.member_id == member_id, Member.withdrawn_at.is_(None))
            .values(password_hash=new_hash, token_valid_after=now, updated_at=now))
        if changed.rowcount != 1:
            raise InvalidResetToken("this account no longer exists")
        await revoke_all(session, "member", int(member_id), now)
        # access tokens issued before the reset end on every instance (as `token_valid_after` does here)
        entry = record_revocation(ctx, uow, role="member", subject_id=int(member_id), not_before=int(now.timestamp()))
        login_id = await session.scalar(select(Member.login_id).where(Member.member_id == member_id))
        await uow.commit()
    apply_here(ctx, [entry])
    # whoever was guessing this account's password has no reason to keep it locked
    await ctx.throttle.succeeded(Attempt(ctx.throttle.keys(account=f"member:{login_id}", address=None)))
    log.info("recovery.password_reset", memberId=member_id)
