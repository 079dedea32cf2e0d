"""Admin accounts (CLI and environment only) and the member listing."""

from __future__ import annotations

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from gluta_kit.db import Database
from gluta_kit.logging import get_logger
from gluta_kit.uow import UnitOfWork
from gluta_user.admin.exceptions import AdminExists
from gluta_user.admin.models import Admin
from gluta_user.admin.schemas import MemberAdminRead, MemberPage
from gluta_user.clock import Clock
from gluta_user.context import UserContext
from gluta_user.member.models import Member
from gluta_user.passwords import PasswordHasher

log = get_logger("gluta.user.admin")


async def create_admin(db: Database, hasher: PasswordHasher, clock: Clock, login_id: str, password: str,
                       name: str | None = None) -> int:
    """Create an admin account; raise AdminExists when the login id is taken."""
    password_hash = await hasher.hash(password)
    async with UnitOfWork(db) as uow:
        if await uow.session.scalar(select(Admin.admin_id).where(Admin.login_id == login_id)):
            raise AdminExists(f"an admin {login_id!r} exists")
        admin = Admin(login_id=login_id, password_hash=password_hash, admin_name=name or login_id,
                      created_at=clock.now())
        uow.session.add(admin)
        try:
            await uow.session.flush()
            admin_id = admin.admin_id
            await uow.commit()
        except IntegrityError as exc:
            raise AdminExists(f"an admin {login_id!r} exists") from exc
    log.info("admin.created", adminId=admin_id, loginId=login_id)
    return admin_id


async def ensure_admin(db: Database, hasher: PasswordHasher, clock: Clock, login_id: str, password: str) -> None:
    """Make sure an admin with this login id and password exists (the password is set when it differs)."""
    async with db.read_sessions() as session:
        admin = await session.scalar(select(Admin).where(Admin.login_id == login_id))
    if admin is None:
        try:
            await create_admin(db, hasher, clock, login_id, password)
        except AdminExists:  # another instance created it at the same moment
            pass
        return
    if await hasher.verify(admin.password_hash, password):
        return
    new_hash = await hasher.hash(password)
    async with UnitOfWork(db) as uow:
        await uow.session.execute(update(Admin).where(Admin.admin_id == admin.admin_id).values(password_hash=new_hash))
        await uow.commit()
    log.info("admin.password_set", adminId=admin.admin_id)


def _like(keyword: str) -> str:
    escaped = keyword.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


async def list_members(ctx: UserContext, keyword: str | None, page: int, size: int) -> MemberPage:
    """Return a page of members, newest first, matching the keyword in login id, name or email."""
    query = select(Member)
    count = select(func.count()).select_from(Member)
    if keyword:
        pattern = _like(keyword)
        match = or_(*(func.lower(column).like(pattern, escape="/")
                      for column in (Member.login_id, Member.member_name, Member.email)))
        query, count = query.where(match), count.where(match)
    async with ctx.db.read_sessions() as session:
        total = int(await session.scalar(count) or 0)
        rows = (await session.scalars(query.order_by(Member.member_id.desc())
                                      .offset((page - 1) * size).limit(size))).all()
    items = [MemberAdminRead.model_validate(_admin_view(row)) for row in rows]
    return MemberPage(items=items, page=page, size=size, total=total)


def _admin_view(row: Member) -> dict[str, object]:
    return {"member_id": row.member_id, "login_id": row.login_id, "member_name": row.member_name,
            "phone_number": row.phone_number, "email": row.email, "post_number": row.post_number,
            "address": row.address, "address_detail": row.address_detail, "created_at": row.created_at,
            "withdrawn": row.withdrawn_at is not None, "withdrawn_at": row.withdrawn_at}
