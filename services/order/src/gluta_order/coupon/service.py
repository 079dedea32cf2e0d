"""Coupons: admins create and disable them, members claim them through the gate, the bus persists claims."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from gluta_contracts import CouponClaimed
from gluta_kit.db import Database, insert_ignore
from gluta_kit.logging import get_logger
from gluta_kit.uow import UnitOfWork
from gluta_order.common import recall_answer
from gluta_order.coupon.exceptions import AlreadyIssued, CouponNotActive, CouponNotFound
from gluta_order.coupon.gate import CouponDirectory, CouponGate, CouponInfo
from gluta_order.coupon.models import FIXED, PERCENT, Coupon, MemberCoupon
from gluta_order.coupon.schemas import CouponAdminRead, CouponRead, CouponWrite, IssueRead, MemberCouponRead

log = get_logger("gluta.order.coupon")

PERSIST_CONSUMER = "order-persist-coupon"
CREATE_SCOPE = "coupon-create"


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def _read(row: Coupon, taken: int) -> dict[str, object]:
    remaining = None if row.quantity is None else max(0, row.quantity - taken)
    return {
        "coupon_id": row.id, "name": row.name, "description": row.description,
        "discount_type": row.discount_type, "discount_value": row.discount_value,
        "max_discount": row.max_discount, "min_order_amount": row.min_order_amount,
        "product_id": row.product_id, "quantity": row.quantity, "starts_at": row.starts_at,
        "ends_at": row.ends_at, "remaining": remaining,
    }


async def create_coupon(*, uow_factory: Callable[[], UnitOfWork], db: Database, body: CouponWrite, now: datetime,
                        caller: str = "", key: str | None = None, slug: str | None = None) -> CouponRead:
    """Create a coupon (once per Idempotency-Key when one is given)."""
    if key:
        first = await recall_answer(db, CREATE_SCOPE, caller, key)
        if first is not None:
            return CouponRead.model_validate(first)
    try:
        async with uow_factory() as uow:
            row = Coupon(slug=slug, name=body.name.strip(), description=body.description,
                         discount_type=body.discount_type, discount_value=body.discount_value,
                         max_discount=body.max_discount, min_order_amount=body.min_order_amount or 0,
                         product_id=body.product_id, quantity=body.quantity, issued=0,
                         starts_at=_utc(body.starts_at), ends_at=_utc(body.ends_at), disabled=False, created_at=now)
            uow.session.add(row)
            await uow.session.flush()
            answer = CouponRead(**_read(row, 0))  # type: ignore[arg-type]
            if key:
                uow.remember(CREATE_SCOPE, caller, key, answer.model_dump(by_alias=True, mode="json"))
            await uow.commit()
        return answer
    except IntegrityError:
        stored = await recall_answer(db, CREATE_SCOPE, caller, key) if key else None
        if stored is None:
            raise
        return CouponRead.model_validate(stored)


async def prepare_gate(*, gate: CouponGate, coupon_id: int) -> None:
    """Set the gate up for a new coupon now rather than on its first claim (best effort)."""
    try:
        await gate.prepare(coupon_id)
    except Exception as exc:  # the first claim initialises it instead
        log.warning("coupon.gate_prepare_failed", couponId=coupon_id, error=repr(exc))


async def disable_coupon(*, uow: UnitOfWork, directory: CouponDirectory, coupon_id: int) -> None:
    """Stop new claims of a coupon; copies already issued stay usable."""
    async with uow:
        result = await uow.session.execute(update(Coupon).where(Coupon.id == coupon_id).values(disabled=True))
        if result.rowcount != 1:
            raise CouponNotFound()
        await uow.commit()
    directory.forget(coupon_id)


async def claimable_coupons(*, db: Database, gate: CouponGate, now: datetime) -> list[CouponRead]:
    """Return the coupons that are enabled and inside their time window now, with what remains of each."""
    async with db.read_sessions() as session:
        rows = (await session.scalars(
            select(Coupon).where(
                Coupon.disabled.is_(False),
                or_(Coupon.starts_at.is_(None), Coupon.starts_at <= now),
                or_(Coupon.ends_at.is_(None), Coupon.ends_at > now),
            ).order_by(Coupon.id)
        )).all()
    taken = await gate.taken([CouponInfo.of(r) for r in rows])
    return [CouponRead(**_read(r, taken.get(r.id, r.issued))) for r in rows]  # type: ignore[arg-type]


async def admin_coupons(*, db: Database, gate: CouponGate) -> list[CouponAdminRead]:
    """Return every coupon with how many copies were issued and used."""
    async with db.read_sessions() as session:
        rows = (await session.scalars(select(Coupon).order_by(Coupon.id.desc()))).all()
        used = dict((await session.execute(
            select(MemberCoupon.coupon_id, func.count()).where(MemberCoupon.used.is_(True))
            .group_by(MemberCoupon.coupon_id))).all())
    taken = await gate.taken([CouponInfo.of(r) for r in rows])
    return [
        CouponAdminRead(**_read(r, taken.get(r.id, r.issued)), issued_count=r.issued,  # type: ignore[arg-type]
                        used_count=int(used.get(r.id, 0)), disabled=r.disabled, created_at=r.created_at)
        for r in rows
    ]


async def member_coupons(*, db: Database, member_id: int) -> list[MemberCouponRead]:
    """Return the coupons a member holds, newest first."""
    async with db.read_sessions() as session:
        rows = (await session.execute(
            select(MemberCoupon, Coupon).join(Coupon, Coupon.id == MemberCoupon.coupon_id)
            .where(MemberCoupon.member_id == member_id).order_by(MemberCoupon.id.desc())
        )).all()
    return [
        MemberCouponRead(
            member_coupon_id=mc.id, coupon_id=c.id, name=c.name, description=c.description,
            discount_type=c.discount_type, discount_value=c.discount_value, max_discount=c.max_discount,
            min_order_amount=c.min_order_amount, product_id=c.product_id, used=mc.used,
            used_order_id=mc.used_order_id, starts_at=c.starts_at, expires_at=c.ends_at, issued_at=mc.issued_at,
        )
        for mc, c in rows
    ]


async def claim(*, directory: CouponDirectory, gate: CouponGate, coupon_id: int, member_id: int,
                now: datetime, retry: bool = False) -> IssueRead:
    """Claim one copy of a coupon through the gate.

    `retry` (the request carried an Idempotency-Key): a member who already holds the coupon gets the
    answer a successful first attempt got, 201 ISSUED, rather than 409.
    """
    coupon = await directory.get(coupon_id)
    if coupon is None:
        raise CouponNotFound()
    if not coupon.active_at(now):
        raise CouponNotActive("this coupon is disabled or outside its claim window")
    try:
        await gate.claim(coupon, member_id, now)
    except AlreadyIssued:
        if not retry:
            raise
    return IssueRead(coupon_id=coupon_id)


async def persist_claim(*, uow: UnitOfWork, event: CouponClaimed) -> bool:
    """Persist an issuance the Redis gate granted: once per (coupon, member), never beyond the quantity.

    Called in the claim's request, and by the consumer when that write failed and the event was published
    instead. Return whether the member holds the coupon now (False: refused, the quantity was reached).
    """
    async with uow:
        if not await uow.claim_event(event.event_id, PERSIST_CONSUMER):
            return True
        inserted = await uow.session.execute(insert_ignore(MemberCoupon.__table__, uow.db.dialect, {
            "coupon_id": event.coupon_id, "member_id": event.member_id, "used": False,
            "issued_at": event.occurred_at,
        }))
        if inserted.rowcount:
            counted = await uow.session.execute(
                update(Coupon)
                .where(Coupon.id == event.coupon_id,
                       or_(Coupon.quantity.is_(None), Coupon.issued < Coupon.quantity))
                .values(issued=Coupon.issued + 1)
            )
            if counted.rowcount != 1:
                # only possible after Redis lost places it had granted (see gate.py): never exceed N
                log.error("coupon.oversold_refused", couponId=event.coupon_id, memberId=event.member_id)
                await uow.session.execute(delete(MemberCoupon).where(
                    and_(MemberCoupon.coupon_id == event.coupon_id, MemberCoupon.member_id == event.member_id)))
                await uow.commit()
                return False
        await uow.commit()
    return True


DEMO_COUPONS: list[tuple[str, CouponWrite]] = [
    ("demo-welcome", CouponWrite(name="Welcome coupon", description="3,000 won off an order of 20,000 won or more",
                                 discount_type=FIXED, discount_value=3_000, min_order_amount=20_000)),
    ("demo-first-come", CouponWrite(name="First-come 10% coupon",
                                    description="10% off (up to 10,000 won); only 100 copies",
                                    discount_type=PERCENT, discount_value=10, max_discount=10_000,
                                    quantity=100)),
]


async def ensure_demo_coupons(*, uow: UnitOfWork, now: datetime) -> int:
    """Create the demo coupons once (by slug), whatever the number of instances starting together."""
    created = 0
    async with uow:
        for slug, body in DEMO_COUPONS:
            result = await uow.session.execute(insert_ignore(Coupon.__table__, uow.db.dialect, {
                "slug": slug, "name": body.name, "description": body.description,
                "discount_type": body.discount_type, "discount_value": body.discount_value,
                "max_discount": body.max_discount, "min_order_amount": body.min_order_amount or 0,
                "product_id": None, "quantity": body.quantity, "issued": 0, "starts_at": None, "ends_at": None,
                "disabled": False, "created_at": now,
            }))
            created += int(result.rowcount or 0)
        await uow.commit()
    return created
