"""Consumers are idempotent: a redelivered or repeated event changes nothing more."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from gluta_contracts import CouponClaimed, MemberUpdated, MemberWithdrawn
from gluta_order.coupon.models import Coupon, MemberCoupon
from gluta_order.snapshot.models import MemberSnapshot


async def test_persisting_a_claim_twice_or_beyond_the_quantity_changes_nothing(env) -> None:
    coupon_id = await env.create_coupon(quantity=1)
    claimed = CouponClaimed(coupon_id=coupon_id, member_id=5)
    await env.publish(claimed)
    await env.publish(claimed)                                         # redelivered
    await env.publish(CouponClaimed(coupon_id=coupon_id, member_id=5))  # announced twice
    await env.publish(CouponClaimed(coupon_id=coupon_id, member_id=6))  # beyond the quantity: refused
    async with env.db.read_sessions() as session:
        holders = (await session.scalars(select(MemberCoupon.member_id).where(MemberCoupon.coupon_id == coupon_id))
                   ).all()
        issued = await session.scalar(select(Coupon.issued).where(Coupon.id == coupon_id))
    assert holders == [5] and issued == 1


async def test_member_snapshot_follows_the_newest_event_and_a_withdrawal_sticks(env) -> None:
    now = datetime.now(UTC)
    await env.registered(7, "kim", "Kim")
    await env.publish(MemberUpdated(member_id=7, login_id="kim", member_name="Kim Two", email="k@gluta.test",
                                    occurred_at=now + timedelta(seconds=1)))
    await env.publish(MemberUpdated(member_id=7, login_id="kim", member_name="Kim Stale", email="k@gluta.test",
                                    occurred_at=now - timedelta(seconds=10)))
    async with env.db.read_sessions() as session:
        assert (await session.get(MemberSnapshot, 7)).member_name == "Kim Two"
    await env.publish(MemberWithdrawn(member_id=7, login_id="kim", occurred_at=now + timedelta(seconds=2)))
    await env.publish(MemberUpdated(member_id=7, login_id="kim", member_name="Kim Three", email="k@gluta.test",
                                    occurred_at=now + timedelta(seconds=3)))
    await env.publish(MemberWithdrawn(member_id=9, login_id="ghost"))  # never registered here
    async with env.db.read_sessions() as session:
        kim = await session.get(MemberSnapshot, 7)
        ghost = await session.get(MemberSnapshot, 9)
    assert kim.withdrawn is True and kim.member_name == "Kim Two"
    assert ghost.withdrawn is True
