"""Products, types and styles through the HTTP API (SQLite)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gluta_contracts import OrderConfirmed, OrderLine
from gluta_product.stock.service import count_sales


async def test_product_create_read_edit_delete(api: Any, png: Any) -> None:
    type_id = await api.create_type("아우터")
    images = [await api.upload(png((i * 40, 0, 0))) for i in range(3)]
    created = await api.create_product(type_id, "울 니트 가디건", description="따뜻한", content="<p>울 <b>100%</b></p>",
                                       styles=["#캐주얼", "미니멀", "캐주얼"], price=59_000, quantity=0,
                                       image_ids=images, thumbnailImageId=images[1])
    pid = created["productId"]
    assert created["productStyles"] == ["미니멀", "캐주얼"]
    assert [i["imageId"] for i in created["images"]] == images
    assert created["images"][0]["url"] == f"/api/product-service/images/{images[0]}"
    assert created["thumbnailUrl"] == f"/api/product-service/images/{images[1]}"
    assert (created["soldOut"], created["unitsSold"], created["likeCount"]) == (True, 0, 0)

    detail = (await api.client.get(f"/products/{pid}")).json()
    assert detail["content"] == "<p>울 <b>100%</b></p>" and detail["productType"]["type"] == "아우터"

    edit = {"name": "Wool Cardigan", "description": "warm", "content": "<p>new</p>", "productTypeId": type_id,
            "productStyles": ["오피스"], "unitPrice": 61_000, "quantity": 4, "imageIds": [images[2], images[0]]}
    edited = await api.client.put(f"/products/{pid}", json=edit, headers=api.admin)
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["name"], body["unitPrice"], body["quantity"], body["productStyles"]) == (
        "Wool Cardigan", 61_000, 4, ["오피스"])
    assert [i["imageId"] for i in body["images"]] == [images[2], images[0]]
    assert body["thumbnailUrl"] == f"/api/product-service/images/{images[2]}"
    # the image the product no longer uses is soft-deleted (hidden); the others still serve
    assert (await api.client.get(f"/images/{images[1]}")).status_code == 404
    assert (await api.client.get(f"/images/{images[0]}")).status_code == 200

    events = [orjson.loads(p) for p in await api.outbox("gluta.product.product-changed")]
    assert events[-1] == {**events[-1], "productId": pid, "name": "Wool Cardigan", "unitPrice": 61_000,
                          "onSale": True, "quantity": 4,
                          "thumbnailUrl": f"/api/product-service/images/{images[2]}"}

    assert (await api.client.delete(f"/products/{pid}", headers=api.admin)).status_code == 204
    assert (await api.client.get(f"/products/{pid}")).json()["code"] == "PRODUCT_NOT_FOUND"
    assert (await api.client.get("/products/search")).json()["total"] == 0
    assert (await api.client.delete(f"/products/{pid}", headers=api.admin)).status_code == 404
    assert (await api.client.put(f"/products/{pid}", json=edit, headers=api.admin)).status_code == 404
    last = orjson.loads((await api.outbox("gluta.product.product-changed"))[-1])
    assert (last["productId"], last["onSale"]) == (pid, False)
    # its images are hidden at once, their files left for the janitor
    assert (await api.client.get(f"/images/{images[0]}")).status_code == 404
    assert len(list((api.service.settings.data_dir / "images").rglob("*.png"))) == 3


async def test_html_content_is_stored_clean(api: Any) -> None:
    type_id = await api.create_type("상의")
    product = await api.create_product(
        type_id, content='<p onmouseover="steal()">hi</p><script>alert(1)</script><img src=x onerror=alert(1)>'
                         '<a href="javascript:alert(1)">x</a><iframe src="//evil"></iframe>')
    content = (await api.client.get(f"/products/{product['productId']}")).json()["content"]
    for bad in ("script", "alert", "onmouseover", "onerror", "javascript", "iframe"):
        assert bad not in content
    assert "<p>hi</p>" in content


async def test_references_must_exist(api: Any) -> None:
    type_id = await api.create_type("상의")
    body = {"name": "x", "productTypeId": type_id + 100, "unitPrice": 1, "quantity": 1}
    response = await api.client.post("/products", json=body, headers=api.admin)
    assert (response.status_code, response.json()["code"]) == (404, "TYPE_NOT_FOUND")
    response = await api.client.post("/products", json={**body, "productTypeId": type_id, "imageIds": [77]},
                                     headers=api.admin)
    assert (response.status_code, response.json()["code"]) == (404, "IMAGE_NOT_FOUND")
    response = await api.client.post("/products", json={**body, "productTypeId": type_id, "thumbnailImageId": 77},
                                     headers=api.admin)
    assert (response.status_code, response.json()["code"]) == (404, "IMAGE_NOT_FOUND")


@pytest.mark.parametrize("change", [
    {"name": ""}, {"name": "x" * 101}, {"unitPrice": -1}, {"unitPrice": 100_000_001}, {"quantity": -1},
    {"quantity": 10**30}, {"unitPrice": "abc"}, {"productTypeId": 2**70}, {"productStyles": ["a/b"]},
    {"productStyles": ["#"]}, {"imageIds": [0]}, {"imageIds": "1"}, {"content": "x" * 100_001},
])
async def test_bad_product_input_is_422(api: Any, change: dict[str, Any]) -> None:
    type_id = await api.create_type("상의")
    body = {"name": "x", "productTypeId": type_id, "unitPrice": 1, "quantity": 1, **change}
    response = await api.client.post("/products", json=body, headers=api.admin)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/products/abc"), ("GET", "/products/0"), ("GET", "/products/99999999999999999999999"),
    ("DELETE", "/types/-1"), ("GET", "/products/1/inquiries?page=-1"),
])
async def test_bad_ids_are_4xx(api: Any, method: str, path: str) -> None:
    response = await api.client.request(method, path, headers=api.admin)
    assert 400 <= response.status_code < 500


async def test_malformed_bodies_are_4xx(api: Any) -> None:
    for content in (b"{", b"[]", b"null", "🙂".encode(), b'{"name": 1}'):
        response = await api.client.post("/products", content=content, headers={
            **api.admin, "content-type": "application/json"})
        assert 400 <= response.status_code < 500, content
    response = await api.client.post("/products", content=b"x" * (2 * 1024 * 1024), headers={
        **api.admin, "content-type": "application/json"})
    assert response.status_code == 413


ADMIN_ROUTES = [
    ("POST", "/products"), ("PUT", "/products/1"), ("DELETE", "/products/1"), ("POST", "/images"),
    ("POST", "/types"), ("DELETE", "/types/1"), ("POST", "/products/1/styles"), ("DELETE", "/products/1/styles/x"),
    ("GET", "/admin/inquiries"), ("PUT", "/inquiries/1/answer"), ("DELETE", "/inquiries/1/answer"),
    ("POST", "/banners"), ("PUT", "/banners/1"), ("DELETE", "/banners/1"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_admin_routes_refuse_members_and_guests(api: Any, method: str, path: str) -> None:
    assert (await api.client.request(method, path, headers=api.member(5))).status_code == 403
    assert (await api.client.request(method, path)).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert (await api.client.request(method, path, headers=bad)).status_code == 401


@pytest.mark.parametrize(("method", "path"), [
    ("PUT", "/products/1/like"), ("DELETE", "/products/1/like"), ("GET", "/members/me/likes"),
    ("POST", "/products/1/inquiries"), ("DELETE", "/inquiries/1"),
])
async def test_member_routes_refuse_guests_and_admins(api: Any, method: str, path: str) -> None:
    assert (await api.client.request(method, path)).status_code == 401
    assert (await api.client.request(method, path, headers=api.admin)).status_code == 403


async def test_types(api: Any) -> None:
    outer = await api.create_type("아우터")
    top = await api.create_type("상의")
    assert (await api.client.get("/types")).json() == [{"productTypeId": outer, "type": "아우터"},
                                                      {"productTypeId": top, "type": "상의"}]
    again = await api.client.post("/types", json={"type": " 아우터 "}, headers=api.admin)
    assert (again.status_code, again.json()["code"]) == (409, "TYPE_EXISTS")
    assert (await api.client.post("/types", json={"type": ""}, headers=api.admin)).status_code == 422
    product = await api.create_product(outer)
    in_use = await api.client.delete(f"/types/{outer}", headers=api.admin)
    assert (in_use.status_code, in_use.json()["code"]) == (409, "TYPE_IN_USE")
    assert (await api.client.delete(f"/types/{top}", headers=api.admin)).status_code == 204
    missing = await api.client.delete(f"/types/{top}", headers=api.admin)
    assert (missing.status_code, missing.json()["code"]) == (404, "TYPE_NOT_FOUND")
    # once its only product is deleted, the type can go
    await api.client.delete(f"/products/{product['productId']}", headers=api.admin)
    assert (await api.client.delete(f"/types/{outer}", headers=api.admin)).status_code == 204
    assert (await api.client.get("/types")).json() == []


async def test_idempotency_key_returns_the_first_answer(api: Any) -> None:
    headers = {**api.admin, "Idempotency-Key": "type-1"}
    first = await api.client.post("/types", json={"type": "가방"}, headers=headers)
    second = await api.client.post("/types", json={"type": "가방"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    type_id = first.json()["productTypeId"]
    body = {"name": "백팩", "productTypeId": type_id, "unitPrice": 1, "quantity": 1}
    key = {**api.admin, "Idempotency-Key": "product-1"}
    one = await api.client.post("/products", json=body, headers=key)
    two = await api.client.post("/products", json=body, headers=key)
    assert one.json()["productId"] == two.json()["productId"]
    assert (await api.client.get("/products/search")).json()["total"] == 1
    too_long = await api.client.post("/types", json={"type": "x"}, headers={**api.admin, "Idempotency-Key": "k" * 65})
    assert too_long.status_code == 422


async def test_styles_register_cancel_count_and_popular(api: Any) -> None:
    type_id = await api.create_type("상의")
    a = (await api.create_product(type_id, "A", styles=["캐주얼"]))["productId"]
    b = (await api.create_product(type_id, "B", styles=["캐주얼", "스트릿"]))["productId"]
    c = (await api.create_product(type_id, "C"))["productId"]
    added = await api.client.post(f"/products/{c}/styles", json={"style": "#빈티지"}, headers=api.admin)
    assert added.status_code == 201 and added.json()["productStyles"] == ["빈티지"]
    for product, style, status in ((c, "캐주얼", 201), (999, "x", 404), (c, "", 422), (c, "a/b", 422)):
        response = await api.client.post(f"/products/{product}/styles", json={"style": style}, headers=api.admin)
        assert response.status_code == status
    assert (await api.client.get("/styles")).json() == [
        {"style": "캐주얼", "productCount": 3}, {"style": "빈티지", "productCount": 1},
        {"style": "스트릿", "productCount": 1}]
    assert (await api.client.delete(f"/products/{c}/styles/빈티지", headers=api.admin)).status_code == 204
    gone = await api.client.delete(f"/products/{c}/styles/빈티지", headers=api.admin)
    assert (gone.status_code, gone.json()["code"]) == (404, "STYLE_NOT_FOUND")
    missing = await api.client.delete("/products/999/styles/x", headers=api.admin)
    assert missing.json()["code"] == "PRODUCT_NOT_FOUND"

    # popularity: units sold, then likes
    await count_sales(api.service.uow(), OrderConfirmed(order_id=1, member_id=1, pay_amount=1, lines=[
        OrderLine(product_id=b, quantity=3)]))
    await api.client.put(f"/products/{a}/like", headers=api.member(9))
    popular = (await api.client.get("/styles/popular", params={"styles": 2, "perStyle": 2})).json()
    assert [p["style"] for p in popular] == ["캐주얼", "스트릿"]  # 3 sold + 1 like beats 3 sold
    assert [p["productId"] for p in popular[0]["products"]] == [b, a]  # c (nothing sold, no like) is cut
    assert [p["productId"] for p in popular[1]["products"]] == [b]
    best = (await api.client.get("/products/best", params={"size": 2})).json()
    assert [p["productId"] for p in best] == [b, a]
    assert (await api.client.get("/styles/popular", params={"perStyle": 0})).status_code == 422
    assert (await api.client.get("/products/best", params={"size": 1000})).status_code == 422
