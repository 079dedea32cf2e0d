"""The revocations this service records: logout, refresh-token reuse, withdrawal and password reset, listed
at `/internal/revocations` for the other services' instances, announced with `TokensRevoked`, and applied
by this instance at once (the ended access token gets 401 here too)."""

import time

import pytest

from gluta_contracts import TokensRevoked


async def test_logout_and_reuse_record_the_session_and_this_instance_refuses_its_token(
        app, client, signup, login, auth, outbox) -> None:
    await signup(client, "alice")
    first, second = await login(client, "alice"), await login(client, "alice")
    assert (await client.get("/members/me", headers=auth(first))).status_code == 200
    assert (await client.post("/logout", json={"refreshToken": first["refreshToken"]},
                              headers=auth(first))).status_code == 204
    ended = await client.get("/members/me", headers=auth(first))
    assert ended.status_code == 401 and ended.json()["code"] == "INVALID_TOKEN"
    assert (await client.get("/members/me", headers=auth(second))).status_code == 200  # the other session lives

    await client.post("/token/refresh", json={"refreshToken": second["refreshToken"]})
    await client.post("/token/refresh", json={"refreshToken": second["refreshToken"]})  # reused: stolen
    assert (await client.get("/members/me", headers=auth(second))).status_code == 401

    listed = (await client.get("/internal/revocations", params={"since": 0})).json()
    events = await outbox(app, TokensRevoked.topic)
    assert len(listed["items"]) == len(events) == 2
    assert all(item["role"] == "member" and item["familyId"] and item["notBefore"] is None for item in listed["items"])
    assert {e["familyId"] for e in events} == {i["familyId"] for i in listed["items"]}
    assert all(item["expiresAt"] > time.time() + 900 for item in listed["items"])
    later = (await client.get("/internal/revocations", params={"since": listed["now"] + 1})).json()
    assert later["items"] == []


async def test_withdrawal_records_a_cut_off_for_every_token_of_the_member(client, signup, login, auth) -> None:
    member = await signup(client, "alice")
    tokens = await login(client, "alice")
    response = await client.request("DELETE", "/members/me", json={"password": "secret123"}, headers=auth(tokens))
    assert response.status_code == 204
    [item] = (await client.get("/internal/revocations")).json()["items"]
    assert (item["subjectId"], item["familyId"]) == (member["memberId"], None)
    assert int(time.time()) - 5 <= item["notBefore"] <= int(time.time()) + 1  # every token issued up to now


@pytest.mark.dialects("sqlite")
async def test_the_list_is_internal_and_checks_its_query(start) -> None:
    async with start(internal_token="s3cret") as (_, client):
        assert (await client.get("/internal/revocations")).status_code == 403
        ok = await client.get("/internal/revocations", headers={"X-Internal-Token": "s3cret"})
        assert ok.status_code == 200 and ok.json()["items"] == []
        for bad in ("yesterday", "nan", "inf", "-1", "1e300"):
            answer = await client.get("/internal/revocations", params={"since": bad},
                                      headers={"X-Internal-Token": "s3cret"})
            assert answer.status_code == 422, bad
            assert answer.headers["content-type"] == "application/problem+json"
