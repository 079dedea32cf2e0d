"""CSRF, the session cookie, tokens kept server-side and refreshed transparently, escaping, error pages."""

import asyncio
import re

import httpx


async def test_a_post_without_the_session_token_is_refused(storefront) -> None:
    client, shop = storefront.client, storefront.shop
    await client.get("/login")  # a session with a token exists
    calls = len(shop.calls)
    refused = await client.post("/login", data={"loginId": "alice", "password": "secret123"})
    assert refused.status_code == 403
    assert "text/html" in refused.headers["content-type"]
    assert "페이지를 새로고침" in refused.text  # readable: reload and try again
    forged = await client.post("/login", data={"loginId": "alice", "password": "secret123", "csrf_token": "x" * 43})
    assert forged.status_code == 403
    assert not any(path.endswith("/login") for _, path, _ in shop.calls[calls:]), "the gateway was never asked"


async def test_a_script_sends_the_token_in_a_header(storefront) -> None:
    client, shop = storefront.client, storefront.shop
    await storefront.login()
    product_id = next(iter(shop.products))
    page = await client.get(f"/products/{product_id}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    headers = {"Accept": "application/json"}
    assert (await client.post(f"/products/{product_id}/like", data={"liked": "1"}, headers=headers)).status_code == 403
    liked = await client.post(f"/products/{product_id}/like", data={"liked": "1"},
                              headers={**headers, "X-CSRF-Token": token})
    assert liked.json() == {"liked": True, "likeCount": 1}
    unliked = await client.post(f"/products/{product_id}/like", data={"liked": "0"},
                                headers={**headers, "X-CSRF-Token": token})
    assert unliked.json() == {"liked": False, "likeCount": 0}


async def test_session_cookie_is_httponly_lax_and_holds_no_token(storefront) -> None:
    client = storefront.client
    home = await client.get("/")
    assert home.status_code == 200 and "set-cookie" not in home.headers  # browsing guests cost no session
    before = (await client.get("/login")).headers["set-cookie"]
    token = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get("/login")).text).group(1)
    response = await client.post("/login", data={"loginId": "alice", "password": "secret123", "csrf_token": token})
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; behind https it is Secure (unit test)
    assert cookie.split(";")[0] != before.split(";")[0], "a new session id after login"
    session_id = client.cookies.get("gluta_session")
    assert session_id and not session_id.startswith(("acc-", "ref-"))
    page = await client.get("/mypage")
    assert page.status_code == 200
    assert "acc-" not in page.text and "ref-" not in page.text, "the browser never sees a token"


async def test_pages_carry_security_headers(storefront) -> None:
    page = await storefront.client.get("/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text, "no inline script: the policy would block it"


async def test_a_public_page_serves_a_member_whose_session_died_as_a_guest(storefront) -> None:
    client, shop = storefront.client, storefront.shop
    await storefront.login()
    shop.expire_access_tokens()
    shop.refresh.clear()
    product_id = next(iter(shop.products))
    page = await client.get(f"/products/{product_id}")
    assert page.status_code == 200
    assert "로그인 시간이 만료되었습니다" in page.text and "로그인하고 구매하기" in page.text


async def test_expired_access_token_is_refreshed_once_transparently(storefront) -> None:
    client, shop = storefront.client, storefront.shop
    await storefront.login()
    shop.expire_access_tokens()
    pages = await asyncio.gather(client.get("/mypage"), client.get("/mypage/orders"), client.get("/cart"))
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert shop.refresh_calls == 1, "one refresh for the session, however many requests"
    assert (await client.get("/mypage/coupons")).status_code == 200
    assert shop.refresh_calls == 1, "the new access token is kept in the session"
    authorizations = [h.get("authorization") for _, path, h in shop.calls if path.endswith("/members/me/coupons")]
    assert authorizations[-1] and authorizations[-1] in {f"Bearer {t}" for t in shop.access}


async def test_refused_refresh_logs_the_user_out_with_a_message(storefront) -> None:
    client, shop = storefront.client, storefront.shop
    await storefront.login()
    shop.expire_access_tokens()
    shop.refresh.clear()  # the refresh token was revoked
    response = await client.get("/mypage/orders")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fmypage%2Forders"
    login = await client.get(response.headers["location"])
    assert "로그인 시간이 만료되었습니다" in login.text
    assert "로그아웃" not in login.text  # the header shows a guest again
    again = await client.get("/mypage")
    assert again.status_code == 303


async def test_logout_revokes_the_refresh_token_and_forgets_the_session(storefront) -> None:
    client, shop = storefront.client, storefront.shop
    await storefront.login()
    assert len(shop.refresh) == 1
    token = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get("/")).text).group(1)
    response = await client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and not shop.refresh
    assert "로그아웃되었습니다" in (await client.get("/")).text
    assert (await client.get("/mypage")).status_code == 303


async def test_an_inquiry_with_a_script_is_shown_as_text(storefront) -> None:
    client, shop = storefront.client, storefront.shop
    await storefront.login()
    product_id = next(iter(shop.products))
    token = await storefront.csrf(f"/products/{product_id}")
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    posted = await client.post(f"/products/{product_id}/inquiries", data={"content": attack, "csrf_token": token})
    assert posted.status_code == 303
    page = (await client.get(f"/products/{product_id}")).text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "<strong>면</strong>" in page, "the product's sanitized HTML content is rendered as HTML"


async def test_unknown_pages_and_failures_show_pages_not_traces(storefront, monkeypatch) -> None:
    client, shop = storefront.client, storefront.shop
    for path in ("/no-such-page", "/products/999999", "/products/not-a-number", "/orders/abc"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "페이지를 찾을 수 없습니다" in response.text and "Traceback" not in response.text
    shop.down = True
    down = await client.get("/search?keyword=x")
    assert down.status_code == 503 and "잠시 후 다시 시도해 주세요" in down.text
    shop.down = False

    from gluta_storefront.catalog import router as catalog

    async def broken(*args, **kwargs):
        raise RuntimeError("database exploded at line 42")

    monkeypatch.setattr(catalog, "_product_page", broken)
    transport = httpx.ASGITransport(app=storefront.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as raw:
        failed = await raw.get(f"/products/{next(iter(shop.products))}")
    assert failed.status_code == 500
    assert "일시적인 오류가 발생했습니다" in failed.text
    assert "exploded" not in failed.text and "Traceback" not in failed.text


async def test_gateway_unreachable_is_a_readable_page(tmp_path) -> None:
    from gluta_kit.testing import free_port, make_settings, running
    from gluta_storefront.app import create_app
    from gluta_storefront.settings import StorefrontSettings

    settings = make_settings(StorefrontSettings, tmp_path, gateway_url=f"http://127.0.0.1:{free_port()}")
    async with running(create_app(settings)) as client:
        home = await client.get("/")
        assert home.status_code == 200 and "페이지 일부를 불러오지 못했습니다" in home.text
        search = await client.get("/search?keyword=셔츠")
        assert search.status_code == 503 and "접속이 많거나 점검 중입니다" in search.text
