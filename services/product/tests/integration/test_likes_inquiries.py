"""Likes and inquiries through the HTTP API."""

from __future__ import annotations

from typing import Any

from gluta_contracts import MemberRegistered, MemberUpdated


async def test_likes_are_idempotent_counted_and_listed(api: Any) -> None:
    type_id = await api.create_type("상의")
    first = (await api.create_product(type_id, "A"))["productId"]
    second = (await api.create_product(type_id, "B"))["productId"]
    alice, bob = api.member(21), api.member(22)
    for _ in range(2):
        assert (await api.client.put(f"/products/{first}/like", headers=alice)).status_code == 204
    await api.client.put(f"/products/{first}/like", headers=bob)
    await api.client.put(f"/products/{second}/like", headers=alice)
    detail = (await api.client.get(f"/products/{first}", headers=alice)).json()
    assert (detail["likeCount"], detail["liked"]) == (2, True)
    assert (await api.client.get(f"/products/{first}")).json()["liked"] is False
    mine = (await api.client.get("/members/me/likes", headers=alice)).json()
    assert [p["productId"] for p in mine["items"]] == [second, first] and mine["total"] == 2
    for _ in range(2):
        assert (await api.client.delete(f"/products/{first}/like", headers=alice)).status_code == 204
    assert (await api.client.get(f"/products/{first}")).json()["likeCount"] == 1
    assert (await api.client.put("/products/999/like", headers=alice)).status_code == 404
    assert (await api.client.delete("/products/999/like", headers=alice)).status_code == 404
    await api.client.delete(f"/products/{second}", headers=api.admin)
    assert (await api.client.get("/members/me/likes", headers=alice)).json()["total"] == 0


async def test_inquiries_with_names_ownership_and_answers(api: Any) -> None:
    pid = (await api.create_product(await api.create_type("상의")))["productId"]
    await api.service.bus.publish_event(MemberRegistered(member_id=31, login_id="alice", member_name="앨리스",
                                                         email="a@example.com"))
    alice, bob = api.member(31), api.member(32)
    asked = await api.client.post(f"/products/{pid}/inquiries", json={"content": "사이즈가 어떻게 되나요?"},
                                  headers=alice)
    assert asked.status_code == 201, asked.text
    inquiry = asked.json()
    assert (inquiry["memberName"], inquiry["mine"], inquiry["answer"]) == ("앨리스", True, None)
    other = (await api.client.post(f"/products/{pid}/inquiries", json={"content": "재입고 되나요?"},
                                   headers=bob)).json()
    assert other["memberName"] == "회원"  # not heard of yet

    await api.service.bus.publish_event(MemberUpdated(member_id=31, login_id="alice", member_name="앨리스2",
                                                      email="a@example.com"))
    listed = (await api.client.get(f"/products/{pid}/inquiries", headers=alice)).json()
    assert listed["total"] == 2
    assert [(i["memberName"], i["mine"]) for i in listed["items"]] == [("회원", False), ("앨리스2", True)]
    assert (await api.client.get(f"/products/{pid}")).json()["inquiryCount"] == 2

    waiting = (await api.client.get("/admin/inquiries", params={"answered": "false"}, headers=api.admin)).json()
    assert waiting["total"] == 2 and waiting["items"][0]["productName"] == "울 니트 가디건"
    answered = await api.client.put(f"/inquiries/{inquiry['inquiryId']}/answer", json={"content": "FREE 입니다"},
                                    headers=api.admin)
    assert answered.status_code == 200 and answered.json()["answer"]["content"] == "FREE 입니다"
    edited = await api.client.put(f"/inquiries/{inquiry['inquiryId']}/answer", json={"content": "M 입니다"},
                                  headers=api.admin)
    assert edited.json()["answer"]["content"] == "M 입니다"
    waiting = (await api.client.get("/admin/inquiries?answered=false", headers=api.admin)).json()
    assert [i["inquiryId"] for i in waiting["items"]] == [other["inquiryId"]]
    done = (await api.client.get("/admin/inquiries?answered=true", headers=api.admin)).json()
    assert [i["inquiryId"] for i in done["items"]] == [inquiry["inquiryId"]]
    assert (await api.client.delete(f"/inquiries/{inquiry['inquiryId']}/answer", headers=api.admin)).status_code == 204
    again = await api.client.delete(f"/inquiries/{inquiry['inquiryId']}/answer", headers=api.admin)
    assert (again.status_code, again.json()["code"]) == (404, "ANSWER_NOT_FOUND")
    assert (await api.client.put("/inquiries/999/answer", json={"content": "x"}, headers=api.admin)).status_code == 404

    # owners delete their own; someone else's is "not found"
    assert (await api.client.delete(f"/inquiries/{inquiry['inquiryId']}", headers=bob)).status_code == 404
    assert (await api.client.delete(f"/inquiries/{inquiry['inquiryId']}", headers=alice)).status_code == 204
    assert (await api.client.delete(f"/inquiries/{inquiry['inquiryId']}", headers=alice)).status_code == 404
    assert (await api.client.get(f"/products/{pid}/inquiries")).json()["total"] == 1


async def test_inquiry_input_is_checked(api: Any) -> None:
    pid = (await api.create_product(await api.create_type("상의")))["productId"]
    member = api.member(40)
    for body in ({"content": ""}, {"content": "x" * 2001}, {}, {"content": 5}):
        assert (await api.client.post(f"/products/{pid}/inquiries", json=body, headers=member)).status_code == 422
    missing = await api.client.post("/products/999/inquiries", json={"content": "hi"}, headers=member)
    assert (missing.status_code, missing.json()["code"]) == (404, "PRODUCT_NOT_FOUND")
    assert (await api.client.get("/products/999/inquiries")).status_code == 404


async def test_member_names_keep_the_newest_and_ignore_redeliveries(api: Any) -> None:
    from datetime import UTC, datetime

    from gluta_product.member.service import names_of, remember_name

    newer = datetime(2026, 1, 2, tzinfo=UTC)
    older = datetime(2026, 1, 1, tzinfo=UTC)
    await remember_name(api.service.uow(), event_id="e2", member_id=50, member_name="새 이름", occurred_at=newer)
    await remember_name(api.service.uow(), event_id="e1", member_id=50, member_name="옛 이름", occurred_at=older)
    await remember_name(api.service.uow(), event_id="e2", member_id=50, member_name="다시", occurred_at=newer)
    async with api.service.db.read_sessions() as session:
        names = await names_of(session, {50, 51})
    assert (names[50], names[51]) == ("새 이름", "회원")
