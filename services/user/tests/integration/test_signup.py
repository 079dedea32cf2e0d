"""Sign-up: the `Member` answer, the validation rules, taken ids and emails, Argon2id, MemberRegistered."""

import asyncio
import json
from typing import Any

import pytest

from gluta_kit.testing import running
from gluta_user.app import create_app


async def test_sign_up_answers_the_member_in_camel_case(client, new_member_body) -> None:
    body = new_member_body("alice", postNumber="06236", address="Teheran-ro 1", addressDetail="4F")
    response = await client.post("/members", json=body)
    assert response.status_code == 201
    member = response.json()
    assert set(member) >= {"memberId", "loginId", "memberName", "phoneNumber", "email", "postNumber", "address",
                           "addressDetail", "createdAt"}
    assert "password" not in member and "passwordHash" not in member
    assert (member["loginId"], member["memberName"], member["postNumber"]) == ("alice", "Alice", "06236")
    assert member["createdAt"].endswith(("Z", "+00:00"))


async def test_fields_the_service_owns_are_ignored(client, new_member_body, login, auth) -> None:
    first = (await client.post("/members", json=new_member_body("first"))).json()
    body = new_member_body("mallory", memberId=first["memberId"], role="admin", withdrawn=True,
                           createdAt="2000-01-01T00:00:00Z")
    response = await client.post("/members", json=body)
    assert response.status_code == 201
    created = response.json()
    assert created["memberId"] != first["memberId"]
    assert not created["createdAt"].startswith("2000")
    tokens = await login(client, "mallory")
    assert tokens["member"]["role"] == "member"
    assert (await client.get("/admin/members", headers=auth(tokens))).status_code == 403
    mine = (await client.get("/members/me", headers=auth(tokens))).json()
    assert mine["memberId"] == created["memberId"]


async def test_password_is_stored_as_argon2id(app, client, signup, sql) -> None:
    member = await signup(client, "alice")
    [(stored,)] = await sql(app, "SELECT password_hash FROM members WHERE member_id = :m", m=member["memberId"])
    assert stored.startswith("$argon2id$") and "secret123" not in stored


BAD_FIELDS: list[tuple[str, Any]] = [
    ("loginId", "Alice"), ("loginId", "abc"), ("loginId", "a" * 21), ("loginId", "al-ice"), ("loginId", "al ice"),
    ("loginId", "앨리스앨리스"), ("loginId", 12345), ("loginId", None),
    ("password", "short1"), ("password", "onlyletters"), ("password", "1234567890"), ("password", "a1" * 33),
    ("password", "pass\ud800word1"), ("password", 12345678),
    ("email", "not-an-email"), ("email", "a@b"), ("email", ""), ("email", ["a@example.com"]),
    ("phoneNumber", "010-abcd-5678"), ("phoneNumber", "+82 10 1234"), ("phoneNumber", "12"),
    ("phoneNumber", 1012345678),
    ("memberName", ""), ("memberName", "   "), ("memberName", "x" * 51), ("memberName", "Al\x00ice"),
    ("memberName", "\udcff"), ("address", "x" * 201), ("addressDetail", "line\nbreak"), ("postNumber", "12345678901"),
]


# validation answers before any database work: one dialect, one app for every case
@pytest.mark.dialects("sqlite")
async def test_invalid_fields_get_422(client, new_member_body) -> None:
    wrong = []
    for field, value in BAD_FIELDS:
        # json.dumps escapes lone surrogates the way a hostile client would send them
        response = await client.post("/members", content=json.dumps(new_member_body("alice") | {field: value}),
                                     headers={"content-type": "application/json"})
        problem = response.json()
        if response.status_code != 422 or problem["code"] != "VALIDATION_ERROR" or not any(
                err["field"] == field for err in problem["errors"]):
            wrong.append((field, value, response.status_code))
    assert wrong == []


async def test_valid_edge_values_are_accepted(client, new_member_body) -> None:
    body = new_member_body("a_b_1234567890123456", password="비밀번호abc1", memberName="김 철수",
                           phoneNumber="01012345678", email="Kim.Cheolsu@Example.COM", postNumber="", address="")
    response = await client.post("/members", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["postNumber"] is None


@pytest.mark.dialects("sqlite")
async def test_malformed_bodies_get_422(client) -> None:
    for body in [None, [], "text", {"loginId": "alice"}, {"a" * 1000: 1}]:
        assert (await client.post("/members", json=body)).status_code == 422, body


@pytest.mark.dialects("sqlite")
async def test_broken_json_is_not_a_500(client) -> None:
    headers = {"content-type": "application/json"}
    response = await client.post("/members", content=b'{"loginId": "alice",', headers=headers)
    assert response.status_code == 422
    response = await client.post("/members", content=b'{"loginId": "\xff\xfe"}', headers=headers)
    assert 400 <= response.status_code < 500


async def test_taken_login_id_is_409(client, signup, new_member_body) -> None:
    await signup(client, "alice")
    response = await client.post("/members", json=new_member_body("alice", email="other@example.com"))
    assert response.status_code == 409
    assert response.json()["code"] == "LOGIN_ID_TAKEN"


async def test_taken_email_is_409_whatever_its_case(client, signup, new_member_body) -> None:
    await signup(client, "alice", email="alice@example.com")
    response = await client.post("/members", json=new_member_body("bobby", email="ALICE@example.com"))
    assert response.status_code == 409
    assert response.json()["code"] == "EMAIL_TAKEN"


async def test_duplicate_check(client, signup) -> None:
    await signup(client, "alice")
    taken = await client.get("/members/login-id/duplicate", params={"loginId": "alice"})
    free = await client.get("/members/login-id/duplicate", params={"loginId": "bobby"})
    assert (taken.status_code, taken.json()) == (200, {"duplicate": True})
    assert (free.status_code, free.json()) == (200, {"duplicate": False})
    assert (await client.get("/members/login-id/duplicate")).status_code == 422
    assert (await client.get("/members/login-id/duplicate", params={"loginId": "x" * 200})).status_code == 422


async def test_sign_up_announces_member_registered(app, client, signup, outbox) -> None:
    member = await signup(client, "alice")
    [event] = await outbox(app, "gluta.user.member-registered")
    assert (event["memberId"], event["loginId"], event["memberName"], event["email"]) == (
        member["memberId"], "alice", "Alice", "alice@example.com")
    assert event["eventId"]


@pytest.mark.dialects("sqlite")
async def test_member_registered_reaches_the_bus(settings, clock, new_member_body) -> None:
    app = create_app(settings, clock=clock)
    received: list[dict] = []
    got_it = asyncio.Event()

    async def listener(body: bytes, headers: dict) -> None:
        received.append(json.loads(body))
        got_it.set()

    app.state.service.bus.subscribe("gluta.user.member-registered", "test-listener", listener)
    async with running(app) as client:
        member = (await client.post("/members", json=new_member_body("alice"))).json()
        await asyncio.wait_for(got_it.wait(), timeout=10)
    assert received[0]["memberId"] == member["memberId"] and received[0]["loginId"] == "alice"


async def test_same_idempotency_key_returns_the_first_answer(client, new_member_body) -> None:
    headers = {"Idempotency-Key": "signup-1"}
    first = await client.post("/members", json=new_member_body("alice"), headers=headers)
    again = await client.post("/members", json=new_member_body("alice"), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    other_key = await client.post("/members", json=new_member_body("alice"), headers={"Idempotency-Key": "signup-2"})
    assert other_key.status_code == 409
    too_long = await client.post("/members", json=new_member_body("bobby"), headers={"Idempotency-Key": "k" * 65})
    assert too_long.status_code == 422


async def test_concurrent_sign_ups_for_one_login_id_give_one_member(client, new_member_body) -> None:
    bodies = [new_member_body("alice", email=f"alice{i}@example.com") for i in range(4)]
    answers = await asyncio.gather(*(client.post("/members", json=body) for body in bodies))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"LOGIN_ID_TAKEN"}
