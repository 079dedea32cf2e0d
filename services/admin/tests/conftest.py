"""Fixtures of the admin tests: the admin app in-process against a stand-in gateway that keeps state in memory."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from gluta_admin.app import create_app
from gluta_admin.settings import AdminSettings
from gluta_kit.testing import make_settings, running
from gluta_kit.web import MemorySessionStore

ADMIN = {"loginId": "boss", "password": "admin-pass-1", "memberId": 1, "memberName": "관리자"}
MEMBER = {"loginId": "shopper", "password": "member-pass-1", "memberId": 7, "memberName": "김고객"}
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")


def problem(status: int, code: str, detail: str = "", **extra: Any) -> JSONResponse:
    return JSONResponse({"type": "about:blank", "title": code, "status": status, "detail": detail or code,
                         "code": code, **extra}, status_code=status, media_type="application/problem+json")


class FakeGateway:
    """The public API of API.md, as far as the admin pages use it, over in-memory data."""

    def __init__(self) -> None:
        self.ids = itertools.count(100)
        self.calls: list[tuple[str, str, str | None]] = []
        self.issued_tokens: dict[str, str] = {}  # access token -> role
        self.refresh_tokens: dict[str, str] = {}
        self.revoked: list[str] = []
        self.types = [{"productTypeId": 1, "type": "상의"}, {"productTypeId": 2, "type": "하의"}]
        self.synonyms: list[dict[str, Any]] = [{"term": "cardigan", "synonyms": ["가디건"]}]
        self.used_types = {1}
        self.images: dict[int, bytes] = {}
        self.products: dict[int, dict[str, Any]] = {}
        self.banners: dict[int, dict[str, Any]] = {}
        self.inquiries: dict[int, dict[str, Any]] = {
            11: {"inquiryId": 11, "productId": 5, "productName": "린넨 셔츠",
                 "content": "<script>alert(1)</script> 사이즈?", "memberName": "김고객", "mine": False,
                 "createdAt": "2026-11-20T10:00:00+09:00", "answer": None},
        }
        self.coupons: list[dict[str, Any]] = []
        self.members = [
            {"memberId": 7, "loginId": "shopper", "memberName": "김고객", "phoneNumber": "010-1111-2222",
             "email": "a@example.com", "postNumber": None, "address": None, "addressDetail": None,
             "createdAt": "2026-11-01T00:00:00+09:00", "withdrawn": False},
            {"memberId": 8, "loginId": "gone", "memberName": "탈퇴자", "phoneNumber": "010-0000-0000",
             "email": "g@example.com", "postNumber": None, "address": None, "addressDetail": None,
             "createdAt": "2026-11-02T00:00:00+09:00", "withdrawn": True},
        ]
        self.orders = [
            {"orderId": 3, "memberId": 7, "status": "CANCELLED", "cancelReason": "INSUFFICIENT_PAY_MONEY",
             "items": [{"productId": 5, "name": "린넨 셔츠", "unitPrice": 30000, "quantity": 1, "memberCouponId": None,
                        "discount": 0, "lineTotal": 30000}], "totalAmount": 30000, "discountAmount": 0,
             "payAmount": 30000, "receiver": {}, "createdAt": "2026-11-20T10:00:00+09:00",
             "updatedAt": "2026-11-20T10:00:01+09:00"},
        ]
        self.sales: dict[str, Any] = {"totalRevenue": 0, "totalUnits": 0, "orderCount": 0, "series": []}
        self.vip: list[dict[str, Any]] = []
        self.best: list[dict[str, Any]] = []
        self.fail: set[str] = set()
        self.access_ttl = 900
        self.app = self._build()

    # --- helpers ---------------------------------------------------------------------------------------
    def tokens(self, account: dict[str, Any], role: str) -> dict[str, Any]:
        n = next(self.ids)
        access, refresh = f"{role}-access-{n}", f"{role}-refresh-{n}"
        self.issued_tokens[access] = role
        self.refresh_tokens[refresh] = role
        return {"accessToken": access, "refreshToken": refresh, "tokenType": "Bearer", "expiresIn": self.access_ttl,
                "member": {"memberId": account["memberId"], "loginId": account["loginId"],
                           "memberName": account["memberName"], "role": role}}

    def role(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        return self.issued_tokens.get(header.removeprefix("Bearer ").strip())

    def add_product(self, name: str, **fields: Any) -> dict[str, Any]:
        product_id = next(self.ids)
        image_ids = fields.pop("imageIds", [])
        product = {"productId": product_id, "name": name, "description": fields.pop("description", ""),
                   "content": fields.pop("content", ""), "productType": self.types[0],
                   "productStyles": fields.pop("productStyles", []), "unitPrice": fields.pop("unitPrice", 1000),
                   "quantity": fields.pop("quantity", 5), "soldOut": False, "likeCount": 0, "liked": False,
                   "inquiryCount": 0, "createdAt": "2026-11-24T09:00:00+09:00", "unitsSold": 0,
                   "images": [{"imageId": i, "url": f"/api/product-service/images/{i}"} for i in image_ids],
                   "thumbnailUrl": None, "imageIds": image_ids}
        product.update(fields)
        self.products[product_id] = product
        return product

    def _write_product(self, product: dict[str, Any], body: dict[str, Any]) -> JSONResponse | None:
        errors = []
        if not isinstance(body.get("name"), str) or not body["name"]:
            errors.append({"loc": ["body", "name"], "field": "name", "msg": "required"})
        if not isinstance(body.get("unitPrice"), int) or not 0 <= body["unitPrice"] <= 100_000_000:
            errors.append({"loc": ["body", "unitPrice"], "field": "unitPrice", "msg": "out of range"})
        if errors:
            return problem(422, "VALIDATION_ERROR", "invalid", errors=errors)
        types = {t["productTypeId"]: t for t in self.types}
        if body.get("productTypeId") not in types:
            return problem(404, "TYPE_NOT_FOUND")
        for image_id in body.get("imageIds") or []:
            if image_id not in self.images:
                return problem(404, "IMAGE_NOT_FOUND")
        thumb = body.get("thumbnailImageId") or (body["imageIds"][0] if body.get("imageIds") else None)
        product.update({
            "name": body["name"], "description": body.get("description", ""),
            "content": re.sub(r"<script.*?</script>", "", body.get("content") or "", flags=re.S),
            "productType": types[body["productTypeId"]], "productStyles": body.get("productStyles") or [],
            "unitPrice": body["unitPrice"], "quantity": body["quantity"], "imageIds": list(body.get("imageIds") or []),
            "images": [{"imageId": i, "url": f"/api/product-service/images/{i}"} for i in body.get("imageIds") or []],
            "thumbnailUrl": f"/api/product-service/images/{thumb}" if thumb else None,
            "thumbnailImageId": thumb, "soldOut": body["quantity"] == 0,
        })
        return None

    # --- routes ----------------------------------------------------------------------------------------
    def _build(self) -> FastAPI:  # noqa: C901 - one route per endpoint
        app = FastAPI()
        gw = self
        admin_only = re.compile(r"^/api/(product|order|user)-service/(admin/(?!login)|products$|products/\d+$|"
                                r"images$|types|banners|inquiries/\d+/answer|coupons|synonyms)")

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Response:
            gw.calls.append((request.method, request.url.path, request.headers.get("authorization")))
            path = request.url.path
            for fragment in gw.fail:
                if fragment in path:
                    return problem(503, "SERVICE_UNAVAILABLE", "down for the test")
            public_get = request.method == "GET" and (path.startswith("/api/product-service/images/")
                                                       or path in ("/api/product-service/types",
                                                                   "/api/product-service/banners")
                                                       or re.match(r"^/api/product-service/products/\d+$", path))
            if admin_only.match(path) and not public_get:
                role = gw.role(request)
                if role is None:
                    return problem(401, "UNAUTHORIZED")
                if role != "admin":
                    return problem(403, "FORBIDDEN", "admins only")
            return await call_next(request)

        @app.post("/api/user-service/admin/login")
        async def admin_login(body: dict[str, Any]) -> Any:
            if body.get("loginId") == ADMIN["loginId"] and body.get("password") == ADMIN["password"]:
                return gw.tokens(ADMIN, "admin")
            return problem(401, "INVALID_CREDENTIALS", "wrong login id or password")

        @app.post("/api/user-service/login")
        async def member_login(body: dict[str, Any]) -> Any:
            if body.get("loginId") == MEMBER["loginId"] and body.get("password") == MEMBER["password"]:
                return gw.tokens(MEMBER, "member")
            return problem(401, "INVALID_CREDENTIALS")

        @app.post("/api/user-service/logout")
        async def logout(body: dict[str, Any]) -> Response:
            gw.revoked.append(str(body.get("refreshToken")))
            gw.refresh_tokens.pop(str(body.get("refreshToken")), None)
            return Response(status_code=204)

        @app.post("/api/user-service/token/refresh")
        async def refresh(body: dict[str, Any]) -> Any:
            role = gw.refresh_tokens.pop(str(body.get("refreshToken")), None)
            if role is None:
                return problem(401, "INVALID_TOKEN")
            return gw.tokens(ADMIN if role == "admin" else MEMBER, role)

        @app.get("/api/user-service/admin/members")
        async def members(keyword: str = "", page: int = 1, size: int = 20) -> Any:
            items = [m for m in gw.members if keyword in m["loginId"] or keyword in m["memberName"]]
            return {"items": items, "page": page, "size": size, "total": len(items)}

        @app.get("/api/product-service/types")
        async def types() -> Any:
            return gw.types

        @app.get("/api/product-service/synonyms")
        async def synonyms() -> Any:
            return {"items": gw.synonyms}

        @app.put("/api/product-service/synonyms")
        async def replace_synonyms(body: dict[str, Any]) -> Any:
            items = body.get("items")
            if not isinstance(items, list) or any(len(i["term"]) > 50 for i in items):
                return problem(422, "VALIDATION_ERROR", "invalid", errors=[{"loc": ["body", "items"],
                                                                           "field": "items", "msg": "too long"}])
            gw.synonyms = [{"term": i["term"].replace(" ", "").lower(), "synonyms": i["synonyms"]} for i in items]
            return {"items": gw.synonyms}

        @app.post("/api/product-service/types", status_code=201)
        async def create_type(body: dict[str, Any]) -> Any:
            if any(t["type"] == body["type"] for t in gw.types):
                return problem(409, "TYPE_EXISTS")
            created = {"productTypeId": next(gw.ids), "type": body["type"]}
            gw.types.append(created)
            return created

        @app.delete("/api/product-service/types/{type_id}")
        async def delete_type(type_id: int) -> Any:
            if type_id in gw.used_types:
                return problem(409, "TYPE_IN_USE", "3 products use this type")
            gw.types = [t for t in gw.types if t["productTypeId"] != type_id]
            return Response(status_code=204)

        @app.post("/api/product-service/images", status_code=201)
        async def upload(file: UploadFile = File(...)) -> Any:
            data = await file.read()
            if not data.startswith(b"\x89PNG"):
                return problem(415, "UNSUPPORTED_MEDIA")
            image_id = next(gw.ids)
            gw.images[image_id] = data
            return {"imageId": image_id, "url": f"/api/product-service/images/{image_id}"}

        @app.get("/api/product-service/images/{image_id}")
        async def image(image_id: int, request: Request) -> Response:
            if image_id not in gw.images:
                return problem(404, "NOT_FOUND")
            if request.headers.get("if-none-match") == f'"{image_id}"':
                return Response(status_code=304, headers={"ETag": f'"{image_id}"'})
            return Response(gw.images[image_id], media_type="image/png", headers={"ETag": f'"{image_id}"'})

        @app.get("/api/product-service/products/search")
        async def search(keyword: str = "", page: int = 1, size: int = 20, type: int | None = None) -> Any:
            items = [p for p in gw.products.values() if keyword in p["name"] and not p.get("deleted")
                     and (type is None or p["productType"]["productTypeId"] == type)]
            items.sort(key=lambda p: -p["productId"])
            return {"items": items[(page - 1) * size: page * size], "page": page, "size": size, "total": len(items)}

        @app.get("/api/product-service/products/{product_id}")
        async def detail(product_id: int) -> Any:
            product = gw.products.get(product_id)
            if product is None or product.get("deleted"):
                return problem(404, "PRODUCT_NOT_FOUND")
            return product

        @app.post("/api/product-service/products", status_code=201)
        async def create_product(body: dict[str, Any]) -> Any:
            product = gw.add_product(body.get("name") or "")
            refused = gw._write_product(product, body)
            if refused is not None:
                gw.products.pop(product["productId"])
                return refused
            return product

        @app.put("/api/product-service/products/{product_id}")
        async def update_product(product_id: int, body: dict[str, Any]) -> Any:
            product = gw.products.get(product_id)
            if product is None or product.get("deleted"):
                return problem(404, "PRODUCT_NOT_FOUND")
            return gw._write_product(product, body) or product

        @app.delete("/api/product-service/products/{product_id}")
        async def delete_product(product_id: int) -> Any:
            if product_id not in gw.products:
                return problem(404, "PRODUCT_NOT_FOUND")
            gw.products[product_id]["deleted"] = True
            return Response(status_code=204)

        @app.get("/api/product-service/banners")
        async def banners() -> Any:
            return sorted(gw.banners.values(), key=lambda b: b["position"])

        @app.post("/api/product-service/banners", status_code=201)
        async def create_banner(file: UploadFile = File(...), linkUrl: str = Form(""),  # noqa: N803
                                position: int = Form(...)) -> Any:
            image_id = next(gw.ids)
            gw.images[image_id] = await file.read()
            banner = {"bannerId": next(gw.ids), "imageUrl": f"/api/product-service/images/{image_id}",
                      "linkUrl": linkUrl, "position": position}
            gw.banners[banner["bannerId"]] = banner
            return banner

        @app.put("/api/product-service/banners/{banner_id}")
        async def update_banner(banner_id: int, file: UploadFile | None = File(None),
                                linkUrl: str | None = Form(None), position: int | None = Form(None)) -> Any:  # noqa: N803
            banner = gw.banners.get(banner_id)
            if banner is None:
                return problem(404, "NOT_FOUND")
            if file is not None:
                image_id = next(gw.ids)
                gw.images[image_id] = await file.read()
                banner["imageUrl"] = f"/api/product-service/images/{image_id}"
            if linkUrl is not None:
                banner["linkUrl"] = linkUrl
            if position is not None:
                banner["position"] = position
            return banner

        @app.delete("/api/product-service/banners/{banner_id}")
        async def delete_banner(banner_id: int) -> Any:
            gw.banners.pop(banner_id, None)
            return Response(status_code=204)

        @app.get("/api/product-service/admin/inquiries")
        async def admin_inquiries(answered: bool | None = None, page: int = 1, size: int = 20) -> Any:
            items = [i for i in gw.inquiries.values() if answered is None or (i["answer"] is not None) == answered]
            return {"items": items, "page": page, "size": size, "total": len(items)}

        @app.put("/api/product-service/inquiries/{inquiry_id}/answer")
        async def answer(inquiry_id: int, body: dict[str, Any]) -> Any:
            inquiry = gw.inquiries.get(inquiry_id)
            if inquiry is None:
                return problem(404, "NOT_FOUND")
            inquiry["answer"] = {"content": body["content"], "createdAt": "2026-11-24T10:00:00+09:00"}
            return inquiry

        @app.delete("/api/product-service/inquiries/{inquiry_id}/answer")
        async def delete_answer(inquiry_id: int) -> Any:
            inquiry = gw.inquiries.get(inquiry_id)
            if inquiry is None or inquiry["answer"] is None:
                return problem(404, "NOT_FOUND")
            inquiry["answer"] = None
            return Response(status_code=204)

        @app.get("/api/order-service/admin/coupons")
        async def admin_coupons() -> Any:
            return gw.coupons

        @app.post("/api/order-service/coupons", status_code=201)
        async def create_coupon(body: dict[str, Any]) -> Any:
            if body.get("discountType") == "PERCENT" and not 1 <= int(body.get("discountValue") or 0) <= 100:
                return problem(422, "VALIDATION_ERROR", errors=[{"field": "discountValue", "msg": "1-100"}])
            coupon = {**body, "couponId": next(gw.ids), "remaining": body.get("quantity"), "issuedCount": 0,
                      "usedCount": 0, "disabled": False}
            gw.coupons.append(coupon)
            return coupon

        @app.delete("/api/order-service/coupons/{coupon_id}")
        async def disable_coupon(coupon_id: int) -> Any:
            for coupon in gw.coupons:
                if coupon["couponId"] == coupon_id:
                    coupon["disabled"] = True
                    return Response(status_code=204)
            return problem(404, "NOT_FOUND")

        @app.get("/api/order-service/admin/orders")
        async def admin_orders(status: str | None = None, page: int = 1, size: int = 20) -> Any:
            items = [o for o in gw.orders if status is None or o["status"] == status]
            return {"items": items, "page": page, "size": size, "total": len(items)}

        @app.get("/api/order-service/admin/dashboard/sales")
        async def sales(request: Request) -> Any:
            return {**gw.sales, "from": request.query_params.get("from"), "to": request.query_params.get("to")}

        @app.get("/api/order-service/admin/dashboard/vip")
        async def vip() -> Any:
            return gw.vip

        @app.get("/api/order-service/admin/dashboard/best-products")
        async def best() -> Any:
            return gw.best

        return app


@pytest.fixture
def fake_gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def session_store() -> MemorySessionStore:
    return MemorySessionStore()


@pytest.fixture
def admin_settings(tmp_path: Path) -> AdminSettings:
    return make_settings(AdminSettings, tmp_path, gateway_url="http://gateway.test")


@pytest.fixture
async def client(admin_settings: AdminSettings, fake_gateway: FakeGateway,
                 session_store: MemorySessionStore) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of the admin app (cookies kept, redirects not followed)."""
    app = create_app(admin_settings, session_store=session_store,
                     gateway_transport=httpx.ASGITransport(app=fake_gateway.app))
    async with running(app) as http:
        yield http


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


@pytest.fixture
def csrf() -> Any:
    """Return the function that reads the CSRF token out of a page."""
    return csrf_of


@pytest.fixture
async def admin_client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The client, logged in as the admin."""
    page = await client.get("/login")
    response = await client.post("/login", data={"loginId": ADMIN["loginId"], "password": ADMIN["password"],
                                                 "csrf_token": csrf_of(page.text), "next": "/"})
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def accounts() -> dict[str, dict[str, Any]]:
    return {"admin": ADMIN, "member": MEMBER}


@pytest.fixture
def png_bytes() -> bytes:
    return PNG
