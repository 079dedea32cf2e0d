"""The admin member listing: pages, keyword search, withdrawn members flagged; admins only."""

import pytest


@pytest.fixture
async def admin_client(start, signup, login, auth):
    async with start(admin_login_id="boss", admin_password="boss1234!") as (app, client):
        for login_id, name, email in [("alice", "Alice Kim", "alice@example.com"),
                                      ("bobby", "Bob Lee", "bob@example.org"),
                                      ("carol_1", "Carol 100%", "carol@example.com")]:
            await signup(client, login_id, memberName=name, email=email)
        carol = await login(client, "carol_1")
        await client.request("DELETE", "/members/me", json={"password": "secret123"}, headers=auth(carol))
        client.headers.update(auth(await login(client, "boss", "boss1234!", admin=True)))
        yield client


async def test_lists_members_newest_first_with_withdrawn_flagged(admin_client) -> None:
    response = await admin_client.get("/admin/members")
    assert response.status_code == 200
    page = response.json()
    assert (page["page"], page["size"], page["total"]) == (1, 20, 3)
    assert [m["loginId"] for m in page["items"]] == ["carol_1", "bobby", "alice"]
    assert [m["withdrawn"] for m in page["items"]] == [True, False, False]
    assert page["items"][0]["withdrawnAt"] and page["items"][1]["withdrawnAt"] is None
    assert {"memberId", "loginId", "memberName", "phoneNumber", "email", "createdAt"} <= set(page["items"][0])


KEYWORDS = [("ALI", ["alice"]), ("lee", ["bobby"]), ("example.com", ["carol_1", "alice"]), ("100%", ["carol_1"]),
            ("%", ["carol_1"]), ("_", ["carol_1"]), ("nobody", []), ("", ["carol_1", "bobby", "alice"])]


async def test_keyword_matches_login_id_name_or_email(admin_client) -> None:
    for keyword, expected in KEYWORDS:
        page = (await admin_client.get("/admin/members", params={"keyword": keyword})).json()
        assert [m["loginId"] for m in page["items"]] == expected, keyword
        assert page["total"] == len(expected), keyword


INJECTIONS = ["' OR '1'='1", "' OR 1=1 --", "%' OR '%'='", "' UNION SELECT password_hash FROM member --",
              "'; DROP TABLE member; --", "\\'", "\\", "alice' --", "' OR login_id LIKE '%"]


async def test_sql_injection_in_the_keyword_finds_nothing_and_changes_nothing(admin_client) -> None:
    for keyword in INJECTIONS:
        page = (await admin_client.get("/admin/members", params={"keyword": keyword})).json()
        assert (page["items"], page["total"]) == ([], 0), keyword
    assert (await admin_client.get("/admin/members")).json()["total"] == 3


async def test_pages(admin_client) -> None:
    second = (await admin_client.get("/admin/members", params={"page": 2, "size": 2})).json()
    assert ([m["loginId"] for m in second["items"]], second["total"]) == (["alice"], 3)
    beyond = (await admin_client.get("/admin/members", params={"page": 99, "size": 2})).json()
    assert (beyond["items"], beyond["total"]) == ([], 3)


@pytest.mark.dialects("sqlite")
async def test_bad_paging_or_keyword_is_422(admin_client) -> None:
    for params in [{"page": 0}, {"size": 101}, {"size": 0}, {"page": "x"}, {"page": 10**30}, {"keyword": "x" * 101},
                   {"keyword": "a\x00b"}]:
        assert (await admin_client.get("/admin/members", params=params)).status_code == 422, params
