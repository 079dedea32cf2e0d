"""Recovery bodies."""

from __future__ import annotations

from typing import Literal

from gluta_user.validation import CamelModel, Email, GivenLoginId, NewPassword, OpaqueToken


class FindLoginIdRequest(CamelModel):
    """The email an account was registered with."""

    email: Email


class PasswordResetRequest(CamelModel):
    """The login id and email of the account to reset."""

    login_id: GivenLoginId
    email: Email


class PasswordResetConfirm(CamelModel):
    """The mailed token and the new password."""

    token: OpaqueToken
    new_password: NewPassword


class Accepted(CamelModel):
    """The same answer whether or not the account exists."""

    status: Literal["accepted"] = "accepted"
    message: str = "If an account matches, a mail is on its way."
