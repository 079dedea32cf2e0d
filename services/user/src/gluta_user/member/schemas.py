"""Member bodies: sign-up, profile, password, withdrawal, and the `Member` answer."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict

from gluta_user.validation import (
    Address,
    CamelModel,
    Email,
    GivenPassword,
    LoginId,
    MemberName,
    NewPassword,
    PhoneNumber,
    PostNumber,
)


class MemberUpdate(CamelModel):
    """What a member may change about themselves (a PUT: omitted optional fields become empty)."""

    member_name: MemberName
    phone_number: PhoneNumber
    email: Email
    post_number: PostNumber = None
    address: Address = None
    address_detail: Address = None


class MemberCreate(MemberUpdate):
    """A sign-up; `memberId`, `role` or any other field the service owns is ignored."""

    login_id: LoginId
    password: NewPassword


class PasswordChange(CamelModel):
    """The current password and a new one."""

    current_password: GivenPassword
    new_password: NewPassword


class Withdrawal(CamelModel):
    """The password, to confirm a withdrawal."""

    password: GivenPassword


class MemberRead(CamelModel):
    """`Member` of API.md."""

    model_config = ConfigDict(from_attributes=True)

    member_id: int
    login_id: str
    member_name: str
    phone_number: str
    email: str
    post_number: str | None
    address: str | None
    address_detail: str | None
    created_at: datetime


class DuplicateRead(CamelModel):
    """Whether a login id is taken (withdrawn members' ids stay taken)."""

    duplicate: bool
