"""The dashboard counts confirmed orders only (a cancelled one never), per Korean day, from this service's data."""

from datetime import UTC, datetime, timedelta

from gluta_contracts import MemberUpdated


async def place_at(env, moment: datetime, member_id: int, items: list[dict]) -> int:
    env.ctx.clock = lambda: moment
    response = await env.place(member_id, items)
    assert response.status_code == 202, response.text
    return int(response.json()["orderId"])


async def test_dashboard_numbers_for_a_known_set_of_orders(env) -> None:
    env.ctx.clock = lambda: datetime(2026, 11, 1, tzinfo=UTC)
    await env.product(1, unit_price=10_000, quantity=100)
    await env.product(2, unit_price=50_000, quantity=100)
    await env.registered(7, "kim", "Kim")
    await env.registered(8, "lee", "Lee")
    for member in (7, 8, 9):
        await env.charge(member, 500_000)
    coupon = await env.give_coupon(7, discountValue=1_000)

    last_second_of_the_20th = datetime(2026, 11, 20, 14, 59, 59, tzinfo=UTC)  # 23:59:59 in Seoul
    first_second_of_the_21st = datetime(2026, 11, 20, 15, 0, 0, tzinfo=UTC)   # 00:00:00 in Seoul
    o1 = await place_at(env, last_second_of_the_20th, 7, [{"productId": 1, "quantity": 2, "memberCouponId": coupon}])
    o2 = await place_at(env, datetime(2026, 11, 20, 1, 0, tzinfo=UTC), 8, [{"productId": 2, "quantity": 1}])
    o3 = await place_at(env, first_second_of_the_21st, 7, [{"productId": 2, "quantity": 1}])
    o4 = await place_at(env, first_second_of_the_21st, 9, [{"productId": 1, "quantity": 3}])
    await place_at(env, first_second_of_the_21st, 8, [{"productId": 1, "quantity": 7}])  # stays PENDING
    o6 = await place_at(env, first_second_of_the_21st, 8, [{"productId": 2, "quantity": 2}])
    for order_id in (o1, o2, o3, o4):
        await env.stock_reserved(order_id)
    await env.stock_rejected(o6)
    cancelled = await env.client.post(f"/orders/{o3}/cancel", headers=env.member(7))  # confirmed, then cancelled
    assert cancelled.status_code == 202
    await env.product(1, unit_price=10_000, name="renamed shirt")
    await env.publish(MemberUpdated(member_id=8, login_id="lee", member_name="Lee Renamed", email="l@gluta.test"))

    admin = env.admin()
    sales = (await env.client.get("/admin/dashboard/sales?from=2026-11-19&to=2026-11-22&granularity=day",
                                  headers=admin)).json()
    assert sales["series"] == [
        {"date": "2026-11-19", "revenue": 0, "units": 0, "orders": 0},
        {"date": "2026-11-20", "revenue": 19_000 + 50_000, "units": 3, "orders": 2},
        {"date": "2026-11-21", "revenue": 30_000, "units": 3, "orders": 1},
        {"date": "2026-11-22", "revenue": 0, "units": 0, "orders": 0},
    ]
    assert (sales["totalRevenue"], sales["totalUnits"], sales["orderCount"]) == (99_000, 6, 3)

    vip = (await env.client.get("/admin/dashboard/vip?from=2026-11-19&to=2026-11-22", headers=admin)).json()
    assert vip == [
        {"rank": 1, "memberId": 8, "loginId": "lee", "memberName": "Lee Renamed", "totalPaid": 50_000,
         "orderCount": 1},
        {"rank": 2, "memberId": 9, "loginId": None, "memberName": None, "totalPaid": 30_000, "orderCount": 1},
        {"rank": 3, "memberId": 7, "loginId": "kim", "memberName": "Kim", "totalPaid": 19_000, "orderCount": 1},
    ]
    best = (await env.client.get("/admin/dashboard/best-products?from=2026-11-19&to=2026-11-22", headers=admin)).json()
    assert best == [
        {"rank": 1, "productId": 1, "name": "renamed shirt", "units": 5, "revenue": 49_000},
        {"rank": 2, "productId": 2, "name": "product 2", "units": 1, "revenue": 50_000},
    ]
    top = (await env.client.get("/admin/dashboard/best-products?from=2026-11-21&to=2026-11-21&limit=1",
                                headers=admin)).json()
    assert top == [{"rank": 1, "productId": 1, "name": "renamed shirt", "units": 3, "revenue": 30_000}]

    # default range: the last 30 Korean days, ending today
    env.ctx.clock = lambda: datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # the 23rd in Seoul
    default = (await env.client.get("/admin/dashboard/sales", headers=admin)).json()
    assert len(default["series"]) == 30
    assert default["series"][0]["date"] == "2026-10-25" and default["series"][-1]["date"] == "2026-11-23"
    assert default["totalRevenue"] == 99_000


async def test_dashboard_is_for_admins_and_checks_its_parameters(env) -> None:
    admin = env.admin()
    for path in ("/admin/dashboard/sales", "/admin/dashboard/vip", "/admin/dashboard/best-products"):
        assert (await env.client.get(path, headers=env.member(7))).status_code == 403
        assert (await env.client.get(path)).status_code == 401
        assert (await env.client.get(f"{path}?from=2026-02-30", headers=admin)).status_code == 422
        assert (await env.client.get(f"{path}?from=2026-03-02&to=2026-03-01", headers=admin)).status_code == 422
        assert (await env.client.get(f"{path}?from=2020-01-01&to=2026-01-01", headers=admin)).status_code == 422
    assert (await env.client.get("/admin/dashboard/sales?granularity=week", headers=admin)).status_code == 422
    assert (await env.client.get("/admin/dashboard/vip?limit=0", headers=admin)).status_code == 422
    assert (await env.client.get("/admin/dashboard/vip?limit=101", headers=admin)).status_code == 422
    empty = (await env.client.get("/admin/dashboard/sales?from=2026-01-01&to=2026-01-03", headers=admin)).json()
    assert empty["totalRevenue"] == 0 and len(empty["series"]) == 3
    assert empty["from"] == "2026-01-01" and empty["to"] == "2026-01-03"
    assert (datetime(2026, 1, 3) - datetime(2026, 1, 1)) == timedelta(days=2)
