"""Only administrators get in; forms need the session's CSRF token; foreign or member sessions are refused."""

import time

import pytest

ADMIN_PAGES = ["/", "/products", "/products/new", "/types", "/synonyms", "/banners", "/inquiries", "/coupons",
               "/orders", "/members", "/operations"]


async def login(client, csrf, login_id, password, next_url="/"):
    page = await client.get("/login")
    return await client.post("/login", data={"loginId": login_id, "password": password, "next": next_url,
                                             "csrf_token": csrf(page.text)})


@pytest.mark.parametrize("path", ADMIN_PAGES)
async def test_every_page_sends_a_guest_to_the_login_page(client, path):
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


async def test_admin_logs_in_and_lands_where_it_wanted(client, csrf, accounts, fake_gateway):
    first = await client.get("/orders?status=CANCELLED")
    assert first.headers["location"] == "/login?next=%2Forders%3Fstatus%3DCANCELLED"
    page = await client.get(first.headers["location"])
    cookie_before = client.cookies.get("gluta_admin_session")
    response = await client.post("/login", data={"loginId": "boss", "password": accounts["admin"]["password"],
                                                 "next": "/orders?status=CANCELLED", "csrf_token": csrf(page.text)})
    assert response.status_code == 303 and response.headers["location"] == "/orders?status=CANCELLED"
    set_cookie = response.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie.replace("samesite=lax", "SameSite=Lax")
    assert client.cookies.get("gluta_admin_session") != cookie_before  # a new session id at login
    orders = await client.get("/orders?status=CANCELLED")
    assert orders.status_code == 200 and "관리자" in orders.text  # the admin's name in the top bar
    # the page's data came through the gateway with the admin's token
    assert any(path == "/api/order-service/admin/orders" and (auth or "").startswith("Bearer admin-access")
               for _, path, auth in fake_gateway.calls)


async def test_a_members_credentials_are_refused_with_a_clear_message(client, csrf, accounts, fake_gateway):
    response = await login(client, csrf, "shopper", accounts["member"]["password"])
    assert response.status_code == 401
    assert "관리자 계정이 아닙니다" in response.text  # "wrong, or not an administrator account"
    assert not any(path == "/api/user-service/login" for _, path, _ in fake_gateway.calls)  # never tried as member
    assert (await client.get("/")).status_code == 303


async def test_wrong_password_is_refused(client, csrf):
    response = await login(client, csrf, "boss", "nope-nope-1")
    assert response.status_code == 401
    assert "아이디 또는 비밀번호가 틀렸거나" in response.text
    assert (await client.get("/")).status_code == 303


async def test_a_session_holding_member_tokens_is_refused_on_every_page(client, session_store, accounts):
    # a session that somehow holds a member's tokens (e.g. copied from the storefront's store)
    session_store.items.clear()
    await session_store.save("member-session-id", {"auth": {"access": "member-access-1", "refresh": "r",
                                                            "exp": time.time() + 600,
                                                            "member": {"memberId": 7, "role": "member"}}}, 600)
    client.cookies.set("gluta_admin_session", "member-session-id")
    for path in ADMIN_PAGES:
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login")


async def test_the_storefronts_cookie_means_nothing_here(admin_client):
    storefront_cookie = "x" * 43
    admin_client.cookies.clear()
    admin_client.cookies.set("gluta_session", storefront_cookie)  # the storefront's cookie name
    assert (await admin_client.get("/")).status_code == 303
    admin_client.cookies.set("gluta_admin_session", storefront_cookie)  # or its value under the admin's name
    assert (await admin_client.get("/")).status_code == 303


async def test_a_post_without_the_csrf_token_changes_nothing(admin_client, fake_gateway):
    before = len(fake_gateway.types)
    response = await admin_client.post("/types", data={"type": "모자"})
    assert response.status_code == 403
    assert "양식이 만료되었습니다" in response.text
    response = await admin_client.post("/types", data={"type": "모자", "csrf_token": "forged"})
    assert response.status_code == 403
    assert len(fake_gateway.types) == before
    assert not any(m == "POST" and p == "/api/product-service/types" for m, p, _ in fake_gateway.calls)


async def test_login_itself_needs_the_csrf_token(client, accounts):
    await client.get("/login")
    response = await client.post("/login", data={"loginId": "boss", "password": accounts["admin"]["password"]})
    assert response.status_code == 403
    assert (await client.get("/")).status_code == 303


async def test_logout_revokes_and_ends_the_session(admin_client, csrf, fake_gateway):
    page = await admin_client.get("/")
    response = await admin_client.post("/logout", data={"csrf_token": csrf(page.text)})
    assert response.headers["location"] == "/login"
    assert any(token.startswith("admin-refresh") for token in fake_gateway.revoked)
    assert (await admin_client.get("/")).status_code == 303


async def test_an_expiring_access_token_is_refreshed_without_the_admin_noticing(client, csrf, accounts,
                                                                              fake_gateway):
    fake_gateway.access_ttl = 5  # within the refresh margin: the next call refreshes first
    await login(client, csrf, "boss", accounts["admin"]["password"])
    fake_gateway.access_ttl = 900
    assert (await client.get("/orders")).status_code == 200
    assert any(path == "/api/user-service/token/refresh" for _, path, _ in fake_gateway.calls)


async def test_a_revoked_session_goes_back_to_login(admin_client, fake_gateway):
    fake_gateway.issued_tokens.clear()
    fake_gateway.refresh_tokens.clear()
    response = await admin_client.get("/orders")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    page = await admin_client.get("/login")
    assert "세션이 만료되었습니다" in page.text


async def test_language_switch_and_security_headers(client):
    page = await client.get("/login")
    assert "관리자 로그인" in page.text and 'lang="ko"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    switched = await client.get("/lang/en?next=/login")
    assert switched.status_code == 303 and switched.headers["location"] == "/login"
    page = await client.get("/login")
    assert "Operator log in" in page.text and 'lang="en"' in page.text
    evil = await client.get("/lang/en?next=https://evil.example")
    assert evil.headers["location"] == "/"
