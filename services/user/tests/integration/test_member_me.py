"""The member's own account: read, update, password, withdrawal (a soft delete that ends every token)."""

import pytest

PROFILE = {"memberName": "Alice Kim", "phoneNumber": "010-2222-3333", "email": "alice.kim@example.com",
           "postNumber": "04524", "address": "Sejong-daero 110", "addressDetail": "12F"}


async def test_read_me(client, signup, login, auth) -> None:
    member = await signup(client, "alice", postNumber="06236")
    response = await client.get("/members/me", headers=auth(await login(client, "alice")))
    assert response.status_code == 200
    assert response.json() == member


async def test_update_me_replaces_the_profile_and_announces_it(app, client, signup, login, auth, outbox) -> None:
    member = await signup(client, "alice", address="Old street 1")
    headers = auth(await login(client, "alice"))
    response = await client.put("/members/me", json=PROFILE, headers=headers)
    assert response.status_code == 200
    updated = response.json()
    assert {k: updated[k] for k in PROFILE} == PROFILE
    assert (updated["memberId"], updated["loginId"], updated["createdAt"]) == (
        member["memberId"], "alice", member["createdAt"])
    assert (await client.get("/members/me", headers=headers)).json() == updated
    without_address = {k: v for k, v in PROFILE.items() if k not in {"address", "addressDetail", "postNumber"}}
    cleared = (await client.put("/members/me", json=without_address, headers=headers)).json()
    assert (cleared["address"], cleared["addressDetail"], cleared["postNumber"]) == (None, None, None)
    events = await outbox(app, "gluta.user.member-updated")
    assert [e["email"] for e in events] == ["alice.kim@example.com", "alice.kim@example.com"]
    assert events[0]["memberId"] == member["memberId"] and events[0]["memberName"] == "Alice Kim"


async def test_update_to_another_members_email_is_409(client, signup, login, auth) -> None:
    await signup(client, "alice")
    await signup(client, "bobby")
    headers = auth(await login(client, "alice"))
    taken = await client.put("/members/me", json=PROFILE | {"email": "BOBBY@example.com"}, headers=headers)
    assert taken.status_code == 409 and taken.json()["code"] == "EMAIL_TAKEN"
    own = await client.put("/members/me", json=PROFILE | {"email": "ALICE@example.com"}, headers=headers)
    assert own.status_code == 200, "keeping one's own email (in another case) is fine"


@pytest.mark.dialects("sqlite")
async def test_invalid_update_is_422(client, signup, login, auth) -> None:
    await signup(client, "alice")
    headers = auth(await login(client, "alice"))
    for change in [{"email": "nope"}, {"phoneNumber": "call me"}, {"memberName": ""}, {"memberName": None},
                   {"address": "x" * 201}, {"addressDetail": "\u0000"}]:
        response = await client.put("/members/me", json=PROFILE | change, headers=headers)
        assert response.status_code == 422 and response.json()["code"] == "VALIDATION_ERROR", change


async def test_change_password(client, signup, login, auth) -> None:
    await signup(client, "alice")
    headers = auth(await login(client, "alice"))
    wrong = await client.put("/members/me/password", json={"currentPassword": "wrong1234", "newPassword": "newpass123"},
                             headers=headers)
    assert wrong.status_code == 401 and wrong.json()["code"] == "INVALID_CREDENTIALS"
    weak = await client.put("/members/me/password", json={"currentPassword": "secret123", "newPassword": "short"},
                            headers=headers)
    assert weak.status_code == 422
    done = await client.put("/members/me/password", json={"currentPassword": "secret123", "newPassword": "newpass123"},
                            headers=headers)
    assert done.status_code == 204
    assert (await client.post("/login", json={"loginId": "alice", "password": "secret123"})).status_code == 401
    await login(client, "alice", "newpass123")


async def test_guessing_the_current_password_is_throttled(client, signup, login, auth) -> None:
    await signup(client, "alice")
    headers = auth(await login(client, "alice"))
    body = {"currentPassword": "wrong1234", "newPassword": "newpass123"}
    codes = [(await client.put("/members/me/password", json=body, headers=headers)).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]


async def test_withdrawal_needs_the_password(client, signup, login, auth) -> None:
    await signup(client, "alice")
    headers = auth(await login(client, "alice"))
    wrong = await client.request("DELETE", "/members/me", json={"password": "wrong1234"}, headers=headers)
    assert wrong.status_code == 401 and wrong.json()["code"] == "INVALID_CREDENTIALS"
    assert (await client.request("DELETE", "/members/me", headers=headers)).status_code == 422
    assert (await client.get("/members/me", headers=headers)).status_code == 200


async def test_withdrawal_ends_every_token_and_login(app, client, signup, login, auth, outbox) -> None:
    member = await signup(client, "alice")
    phone, laptop = await login(client, "alice"), await login(client, "alice")
    rotated = (await client.post("/token/refresh", json={"refreshToken": laptop["refreshToken"]})).json()
    response = await client.request("DELETE", "/members/me", json={"password": "secret123"}, headers=auth(phone))
    assert response.status_code == 204
    for tokens in (phone, rotated):
        assert (await client.get("/members/me", headers=auth(tokens))).status_code == 401, "access tokens die"
        refresh = await client.post("/token/refresh", json={"refreshToken": tokens["refreshToken"]})
        assert refresh.status_code == 401, "refresh tokens die"
    assert (await client.get("/members/me/summary", headers=auth(phone))).status_code == 401
    assert (await client.post("/login", json={"loginId": "alice", "password": "secret123"})).status_code == 401
    [event] = await outbox(app, "gluta.user.member-withdrawn")
    assert (event["memberId"], event["loginId"]) == (member["memberId"], "alice")


async def test_a_withdrawn_login_id_stays_taken_and_the_email_is_freed(client, signup, login, auth,
                                                                       new_member_body) -> None:
    await signup(client, "alice")
    tokens = await login(client, "alice")
    await client.request("DELETE", "/members/me", json={"password": "secret123"}, headers=auth(tokens))
    duplicate = await client.get("/members/login-id/duplicate", params={"loginId": "alice"})
    assert duplicate.json() == {"duplicate": True}
    again = await client.post("/members", json=new_member_body("alice", email="fresh@example.com"))
    assert again.status_code == 409 and again.json()["code"] == "LOGIN_ID_TAKEN"
    same_email = await client.post("/members", json=new_member_body("alice2", email="alice@example.com"))
    assert same_email.status_code == 201, "the email of a withdrawn member can sign up again"
