"""Admin views of members."""

from __future__ import annotations

from datetime import datetime

from gluta_user.member.schemas import MemberRead
from gluta_user.validation import CamelModel


class MemberAdminRead(MemberRead):
    """`Member` with its withdrawal flag."""

    withdrawn: bool
    withdrawn_at: datetime | None


class MemberPage(CamelModel):
    """A page of members."""

    items: list[MemberAdminRead]
    page: int
    size: int
    total: int
