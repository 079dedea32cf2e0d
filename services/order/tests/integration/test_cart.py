"""The cart works from the product snapshot kept from ProductChanged, without asking the product service."""

from datetime import UTC, datetime, timedelta

import pytest


async def test_cart_lines_come_from_the_snapshot(env) -> None:
    await env.product(1, unit_price=12_000, quantity=5, name="linen shirt")
    member = env.member(7)
    added = await env.client.post("/cart/items", json={"productId": 1, "quantity": 2}, headers=member)
    assert added.status_code == 201
    item = added.json()
    assert item == {"cartItemId": item["cartItemId"], "productId": 1, "name": "linen shirt",
                    "thumbnailUrl": "/images/1", "unitPrice": 12_000, "quantity": 2, "lineTotal": 24_000,
                    "available": True}
    again = await env.client.post("/cart/items", json={"productId": 1, "quantity": 3}, headers=member)
    assert again.status_code == 201
    assert again.json()["cartItemId"] == item["cartItemId"] and again.json()["quantity"] == 5
    cart = (await env.client.get("/cart", headers=member)).json()
    assert len(cart["items"]) == 1 and cart["total"] == 60_000


async def test_unknown_product_sold_out_or_off_sale_is_refused(env) -> None:
    member = env.member(7)
    unknown = await env.client.post("/cart/items", json={"productId": 99, "quantity": 1}, headers=member)
    assert unknown.status_code == 404 and unknown.json()["code"] == "PRODUCT_NOT_FOUND"

    await env.product(1, quantity=3)
    too_many = await env.client.post("/cart/items", json={"productId": 1, "quantity": 4}, headers=member)
    assert too_many.status_code == 409 and too_many.json()["code"] == "OUT_OF_STOCK"
    assert (await env.client.post("/cart/items", json={"productId": 1, "quantity": 2}, headers=member)).status_code \
        == 201
    # the line already holds 2: two more would exceed the 3 known
    over = await env.client.post("/cart/items", json={"productId": 1, "quantity": 2}, headers=member)
    assert over.status_code == 409 and over.json()["code"] == "OUT_OF_STOCK"
    assert (await env.client.get("/cart", headers=member)).json()["items"][0]["quantity"] == 2

    await env.product(2, on_sale=False)
    off = await env.client.post("/cart/items", json={"productId": 2, "quantity": 1}, headers=member)
    assert off.status_code == 409 and off.json()["code"] == "OUT_OF_STOCK"


async def test_a_line_becomes_unavailable_when_the_product_changes(env) -> None:
    await env.product(1, unit_price=1_000, quantity=10)
    member = env.member(7)
    await env.client.post("/cart/items", json={"productId": 1, "quantity": 4}, headers=member)
    await env.product(1, unit_price=1_500, quantity=3)
    cart = (await env.client.get("/cart", headers=member)).json()
    assert cart["items"][0]["unitPrice"] == 1_500
    assert cart["items"][0]["available"] is False and cart["total"] == 0


async def test_an_older_product_event_never_overwrites_a_newer_one(env) -> None:
    now = datetime.now(UTC)
    await env.product(1, unit_price=2_000, quantity=10, occurred_at=now)
    await env.product(1, unit_price=1_000, quantity=99, occurred_at=now - timedelta(seconds=5))  # late, older
    added = await env.client.post("/cart/items", json={"productId": 1, "quantity": 1}, headers=env.member(7))
    assert added.json()["unitPrice"] == 2_000


async def test_patch_and_delete_only_touch_own_lines(env) -> None:
    await env.product(1, quantity=10)
    item = (await env.client.post("/cart/items", json={"productId": 1, "quantity": 1},
                                  headers=env.member(7))).json()
    path = f"/cart/items/{item['cartItemId']}"
    assert (await env.client.patch(path, json={"quantity": 3}, headers=env.member(8))).status_code == 404
    assert (await env.client.delete(path, headers=env.member(8))).status_code == 404
    patched = await env.client.patch(path, json={"quantity": 3}, headers=env.member(7))
    assert patched.status_code == 200 and patched.json()["quantity"] == 3
    over = await env.client.patch(path, json={"quantity": 11}, headers=env.member(7))
    assert over.status_code == 409 and over.json()["code"] == "OUT_OF_STOCK"
    assert (await env.client.delete(path, headers=env.member(7))).status_code == 204
    assert (await env.client.delete(path, headers=env.member(7))).status_code == 404
    assert (await env.client.get("/cart", headers=env.member(7))).json() == {"items": [], "total": 0}


async def test_cart_add_with_an_idempotency_key_adds_once(env) -> None:
    await env.product(1, quantity=10)
    headers = {**env.member(7), "Idempotency-Key": "add-1"}
    first = await env.client.post("/cart/items", json={"productId": 1, "quantity": 2}, headers=headers)
    retry = await env.client.post("/cart/items", json={"productId": 1, "quantity": 2}, headers=headers)
    assert first.json() == retry.json() and retry.json()["quantity"] == 2


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/cart/items", {"productId": "abc", "quantity": 1}),
        ("post", "/cart/items", {"productId": 1, "quantity": 0}),
        ("post", "/cart/items", {"productId": 1, "quantity": 10**30}),
        ("post", "/cart/items", {"productId": 10**30, "quantity": 1}),
        ("post", "/cart/items", [1, 2]),
        ("patch", "/cart/items/1", {"quantity": -1}),
        ("patch", "/cart/items/99999999999999999999999", {"quantity": 1}),
        ("delete", "/cart/items/abc", None),
    ],
)
async def test_malformed_requests_get_422(env, method: str, path: str, body: object) -> None:
    kwargs = {"json": body} if body is not None else {}
    response = await getattr(env.client, method)(path, headers=env.member(7), **kwargs)
    assert response.status_code == 422
    assert response.json()["code"] == "VALIDATION_ERROR"


async def test_the_cart_needs_a_member(env) -> None:
    assert (await env.client.get("/cart")).status_code == 401
    assert (await env.client.get("/cart", headers={"Authorization": "Bearer nonsense"})).status_code == 401
    assert (await env.client.get("/cart", headers=env.admin())).status_code == 403
    forged = env.keys.bearer(7, "member", aud="someone-else")
    assert (await env.client.get("/cart", headers=forged)).status_code == 401
