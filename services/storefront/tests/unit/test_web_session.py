"""The kit's sessions: stored server-side, saved only when changed, merged key by key, rotated at login."""

from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gluta_kit.web import MemorySessionStore, SessionMiddleware, csrf_token, verify_csrf
from gluta_kit.web.session import Session


async def test_concurrent_requests_do_not_undo_each_other() -> None:
    store = MemorySessionStore()
    await store.save("sid", {"auth": {"access": "old"}, "cart_coupons": {}}, 60)
    first = Session("sid", await store.load("sid") or {}, store, 60)
    second = Session("sid", await store.load("sid") or {}, store, 60)
    first["auth"] = {"access": "new"}            # a token refresh, saved at once
    await first.persist()
    second["cart_coupons"] = {"1": 7}             # another request, loaded before the refresh
    await second.persist()
    assert await store.load("sid") == {"auth": {"access": "new"}, "cart_coupons": {"1": 7}}


async def test_rotation_gives_a_new_id_and_forgets_the_old_one() -> None:
    store = MemorySessionStore()
    session = Session(None, {}, store, 60)
    session["csrf"] = "t"
    old = await session.persist()
    session.rotate()
    new = await session.persist()
    assert old and new and old != new
    assert await store.load(old) is None and await store.load(new) == {"csrf": "t"}


def _app(store: MemorySessionStore) -> Any:
    async def read(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(request.session.get("n", 0)))

    async def write(request: Request) -> PlainTextResponse:
        await verify_csrf(request)
        request.session["n"] = request.session.get("n", 0) + 1
        return PlainTextResponse("ok")

    async def form(request: Request) -> PlainTextResponse:
        return PlainTextResponse(csrf_token(request))

    from fastapi import FastAPI

    from gluta_kit.errors import install_error_handlers

    app = FastAPI(routes=[Route("/read", read), Route("/write", write, methods=["POST"]), Route("/form", form)])
    install_error_handlers(app)
    app.add_middleware(SessionMiddleware, store=store)
    return app


async def test_guests_get_no_cookie_until_a_form_needs_one() -> None:
    store = MemorySessionStore()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(store)), base_url="http://t") as client:
        response = await client.get("/read")
        assert "set-cookie" not in response.headers and not store.items
        token = (await client.get("/form")).text
        cookie = client.cookies.get("gluta_session")
        assert cookie and token and cookie != token
        assert (await client.post("/write", headers={"X-CSRF-Token": token})).text == "ok"
        assert (await client.get("/read")).text == "1"
        refused = await client.post("/write", headers={"X-CSRF-Token": "forged"})
        assert refused.status_code == 403 and refused.json()["code"] == "CSRF_FAILED"
        assert (await client.get("/read")).text == "1"


async def test_cookie_is_httponly_lax_and_secure_behind_https() -> None:
    store = MemorySessionStore()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(store)), base_url="http://t") as client:
        plain = (await client.get("/form")).headers["set-cookie"]
        assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(store)), base_url="http://t") as client:
        proxied = (await client.get("/form", headers={"X-Forwarded-Proto": "https"})).headers["set-cookie"]
        assert "Secure" in proxied and "HttpOnly" in proxied
