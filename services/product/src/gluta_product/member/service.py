"""Member names from the user service's events; shown on inquiries."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gluta_kit.db import insert_ignore
from gluta_kit.uow import UnitOfWork
from gluta_product.member.models import MemberName

UNKNOWN_NAME = "회원"
CONSUMER = "product-member-names"


async def remember_name(uow: UnitOfWork, *, event_id: str, member_id: int, member_name: str,
                        occurred_at: datetime) -> None:
    """Keep the newest name of a member (an older event arriving late changes nothing)."""
    async with uow:
        if not await uow.claim_event(event_id, CONSUMER):
            return
        name = member_name[:100]
        inserted = await uow.session.execute(insert_ignore(
            MemberName.__table__, uow.db.dialect,
            {"member_id": member_id, "member_name": name, "event_at": occurred_at}))
        if not inserted.rowcount:
            await uow.session.execute(update(MemberName).where(MemberName.member_id == member_id,
                                                               MemberName.event_at <= occurred_at)
                                      .values(member_name=name, event_at=occurred_at))
        await uow.commit()


async def names_of(session: AsyncSession, member_ids: set[int]) -> dict[int, str]:
    """Return the known names of members, '회원' for the ones not heard of."""
    names: dict[int, str] = defaultdict(lambda: UNKNOWN_NAME)
    if member_ids:
        names.update((await session.execute(select(MemberName.member_id, MemberName.member_name)
                                            .where(MemberName.member_id.in_(member_ids)))).all())
    return names
