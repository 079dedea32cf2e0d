"""Demo data exists only in demo mode: two coupons, and pay money for the demo member, each made once."""

from gluta_contracts import MemberRegistered


async def test_demo_mode_creates_the_coupons_once_and_funds_the_demo_member(order_app) -> None:
    async with order_app(demo=True) as env:
        coupons = {c["name"]: c for c in (await env.client.get("/coupons")).json()}
        assert len(coupons) == 2
        welcome = coupons["Welcome coupon"]
        assert (welcome["discountType"], welcome["discountValue"], welcome["minOrderAmount"], welcome["remaining"]) \
            == ("FIXED", 3_000, 20_000, None)
        first_come = coupons["First-come 10% coupon"]
        assert (first_come["discountType"], first_come["discountValue"], first_come["maxDiscount"],
                first_come["quantity"], first_come["remaining"]) == ("PERCENT", 10, 10_000, 100, 100)

        await env.registered(42, "demo", "Demo Member")
        await env.publish(MemberRegistered(member_id=42, login_id="demo", member_name="Demo Member",
                                           email="demo@gluta.test"))  # announced again, with a new event id
        await env.registered(43, "someone")
        assert await env.balance(42) == 500_000
        assert await env.balance(43) == 0
        assert await env.ledger_consistent(42) == 500_000
    async with order_app(demo=True) as env:  # a restart on the same database
        assert len((await env.client.get("/coupons")).json()) == 2


async def test_no_demo_data_outside_demo_mode(env) -> None:
    assert (await env.client.get("/coupons")).json() == []
    await env.registered(42, "demo")
    assert await env.balance(42) == 0
