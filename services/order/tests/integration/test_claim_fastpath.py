"""The claim's fast path answers exactly as the FastAPI route it stands in front of."""

from typing import Any

import httpx
import pytest

from gluta_order.coupon.fastpath import ClaimFastPath, claim_request


def _scope(path: str, headers: list[tuple[bytes, bytes]], method: str = "POST") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "headers": headers, "root_path": ""}


BEARER = [(b"authorization", b"Bearer abc")]


@pytest.mark.parametrize(("path", "headers", "method", "expected"), [
    ("/coupons/7/issue", BEARER, "POST", (7, "abc", None)),
    ("/coupons/7/issue", [*BEARER, (b"idempotency-key", b"k1")], "POST", (7, "abc", "k1")),
    ("/coupons/7/issue", [(b"authorization", b"bearer  abc ")], "POST", (7, "abc", None)),
    ("/coupons/7/issue", BEARER, "GET", None),
    ("/coupons/0/issue", BEARER, "POST", None),
    ("/coupons/07/issue", BEARER, "POST", None),
    ("/coupons/x/issue", BEARER, "POST", None),
    ("/coupons/\u0661/issue", BEARER, "POST", None),  # an Arabic-Indic digit: not ASCII
    ("/coupons/9223372036854775808/issue", BEARER, "POST", None),  # beyond the largest id
    ("/coupons//issue", BEARER, "POST", None),
    ("/coupons/7/issue", [], "POST", None),
    ("/coupons/7/issue", [(b"authorization", b"Basic abc")], "POST", None),
    ("/coupons/7/issue", [*BEARER, *BEARER], "POST", None),
    ("/coupons/7/issue", [*BEARER, (b"idempotency-key", b"")], "POST", None),
    ("/coupons/7/issue", [*BEARER, (b"idempotency-key", b"k" * 65)], "POST", None),
])
def test_only_well_formed_claims_take_the_fast_path(path: str, headers: list[tuple[bytes, bytes]], method: str,
                                                    expected: tuple[int, str, str | None] | None) -> None:
    assert claim_request(_scope(path, headers, method)) == expected


def _route_behind(app: Any) -> Any:
    """Return an ASGI app that reaches what stands behind the fast path (FastAPI's own route)."""
    layer = app.middleware_stack
    while not isinstance(layer, ClaimFastPath):
        layer = layer.app
    inner = layer.app

    async def route(scope: Any, receive: Any, send: Any) -> None:
        scope["app"] = app
        await inner(scope, receive, send)

    return route


async def test_the_fast_path_answers_as_the_route(env) -> None:
    created = await env.client.post("/coupons", json={"name": "c", "discountType": "FIXED", "discountValue": 500,
                                                      "quantity": 2}, headers=env.admin())
    coupon_id = created.json()["couponId"]
    fast = env.client
    slow = httpx.AsyncClient(transport=httpx.ASGITransport(app=_route_behind(env.app)), base_url="http://test")
    trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    cases: list[tuple[str, dict[str, str]]] = [
        (f"/coupons/{coupon_id}/issue", {"Authorization": "Bearer not-a-token"}),
        (f"/coupons/{coupon_id}/issue", env.admin()),
        ("/coupons/999999/issue", env.member(10)),
        (f"/coupons/{coupon_id}/issue", {**env.member(10), "traceparent": trace}),  # 201
        (f"/coupons/{coupon_id}/issue", {**env.member(11), "Idempotency-Key": "k"}),  # 201
        (f"/coupons/{coupon_id}/issue", {**env.member(11), "Idempotency-Key": "k"}),  # 201 again (a retry)
        (f"/coupons/{coupon_id}/issue", env.member(12)),  # sold out
    ]
    async with slow:
        for number, (path, headers) in enumerate(cases):
            answer = await fast.post(path, headers=headers)
            assert "x-trace-id" in answer.headers
            assert answer.headers["content-type"].startswith(("application/json", "application/problem+json"))
            if number < 3:  # refusals that change nothing: the route must give the very same answer
                again = await slow.post(path, headers=headers)
                assert (answer.status_code, answer.json()) == (again.status_code, again.json()), path
            results = (answer.status_code, answer.json().get("code"))
            expected = [(401, "INVALID_TOKEN"), (403, "FORBIDDEN"), (404, "COUPON_NOT_FOUND"), (201, None),
                        (201, None), (201, None), (410, "SOLD_OUT")][number]
            assert results == expected, (number, answer.json())
        assert answer.json()["detail"] == (await slow.post(path, headers=headers)).json()["detail"]
        ok = await fast.post(f"/coupons/{coupon_id}/issue", headers={**env.member(10), "traceparent": trace})
        assert ok.status_code == 409 and ok.headers["x-trace-id"] == "0af7651916cd43dd8448eb211c80319c"
        first = await fast.post(f"/coupons/{coupon_id}/issue", headers={**env.member(11), "Idempotency-Key": "k"})
        same = await slow.post(f"/coupons/{coupon_id}/issue", headers={**env.member(11), "Idempotency-Key": "k"})
        assert first.status_code == same.status_code == 201
        assert first.content == same.content == b'{"couponId":%d,"status":"ISSUED"}' % coupon_id
    metrics = (await env.client.get("/metrics")).text
    assert 'route="/coupons/{coupon_id}/issue",service="order",status="201"' in metrics


async def test_odd_claims_get_the_routes_answers(env) -> None:
    for path, headers, status, code in [
        ("/coupons/1/issue", {}, 401, "UNAUTHORIZED"),
        ("/coupons/1/issue", {"Authorization": "Basic abc"}, 401, "INVALID_TOKEN"),
        ("/coupons/0/issue", env.member(1), 422, "VALIDATION_ERROR"),
        ("/coupons/x/issue", env.member(1), 422, "VALIDATION_ERROR"),
        ("/coupons/1/issue", {**env.member(1), "Idempotency-Key": "k" * 65}, 422, "VALIDATION_ERROR"),
    ]:
        answer = await env.client.post(path, headers=headers)
        assert (answer.status_code, answer.json()["code"]) == (status, code), path
