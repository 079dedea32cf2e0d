"""Recovery routes: always 202 for requests, so nobody learns which accounts exist."""

from __future__ import annotations

from email.message import EmailMessage

from fastapi import APIRouter, BackgroundTasks, Response

from gluta_user.deps import Context
from gluta_user.mail import deliver
from gluta_user.recovery import service
from gluta_user.recovery.schemas import Accepted, FindLoginIdRequest, PasswordResetConfirm, PasswordResetRequest

router = APIRouter(tags=["recovery"])


def _send_later(tasks: BackgroundTasks, ctx: Context, message: EmailMessage | None) -> None:
    # the mail goes out after the answer, so its delivery time does not show in the response time
    if message is not None:
        tasks.add_task(deliver, ctx.mailer, message)


@router.post("/members/find-login-id", status_code=202, response_model=Accepted)
async def find_login_id(body: FindLoginIdRequest, ctx: Context, tasks: BackgroundTasks) -> Accepted:
    """Mail the login id to this address if a member has it."""
    _send_later(tasks, ctx, await service.find_login_id(ctx, body.email))
    return Accepted()


@router.post("/members/password-reset", status_code=202, response_model=Accepted)
async def request_password_reset(body: PasswordResetRequest, ctx: Context, tasks: BackgroundTasks) -> Accepted:
    """Mail a one-time reset link if the login id and email belong to one member."""
    _send_later(tasks, ctx, await service.request_password_reset(ctx, body.login_id, body.email))
    return Accepted()


@router.post("/members/password-reset/confirm", status_code=204)
async def confirm_password_reset(body: PasswordResetConfirm, ctx: Context) -> Response:
    """Set a new password with the mailed token."""
    await service.confirm_password_reset(ctx, body.token, body.new_password)
    return Response(status_code=204)
