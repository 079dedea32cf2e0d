"""A stand-in gateway (the public API contract, in memory) and the storefront running against it."""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from gluta_kit.testing import make_settings, running, serving
from gluta_storefront.app import create_app
from gluta_storefront.settings import StorefrontSettings

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def problem(status: int, code: str, detail: str = "", errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": code, "status": status, "detail": detail or code,
                            "code": code}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class FakeShop:
    """What the stand-in gateway knows; tests read and change it directly."""

    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    access: dict[str, tuple[str, float]] = field(default_factory=dict)   # token -> (loginId, expires)
    refresh: dict[str, str] = field(default_factory=dict)                # live refresh token -> loginId
    used_refresh: set[str] = field(default_factory=set)
    refresh_calls: int = 0
    access_ttl: int = 900
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    likes: set[tuple[str, int]] = field(default_factory=set)
    inquiries: dict[int, dict[str, Any]] = field(default_factory=dict)
    carts: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    wallets: dict[str, int] = field(default_factory=dict)
    transactions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    coupons: dict[int, dict[str, Any]] = field(default_factory=dict)
    member_coupons: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    searches: list[dict[str, str]] = field(default_factory=list)  # the query parameters of each product search
    down: bool = False
    ids: Any = field(default_factory=lambda: itertools.count(100))

    def add_member(self, login_id: str, password: str = "secret123", name: str = "테스터") -> dict[str, Any]:
        member = {"memberId": next(self.ids), "loginId": login_id, "memberName": name, "phoneNumber": "010-1234-5678",
                  "email": f"{login_id}@example.com", "postNumber": "06236", "address": "서울시 강남구 테헤란로 1",
                  "addressDetail": "101호", "createdAt": now()}
        self.members[login_id] = member
        self.passwords[login_id] = password
        self.wallets[login_id] = 0
        return member

    def add_product(self, name: str, price: int, quantity: int = 10, **extra: Any) -> dict[str, Any]:
        product_id = next(self.ids)
        image_id = next(self.ids)
        product = {"productId": product_id, "name": name, "description": extra.pop("description", f"{name} 설명"),
                   "productType": {"productTypeId": 1, "type": "상의"},
                   "productStyles": extra.pop("styles", ["캐주얼"]),
                   "thumbnailUrl": f"/api/product-service/images/{image_id}", "unitPrice": price, "quantity": quantity,
                   "soldOut": quantity == 0, "likeCount": 0, "liked": False, "inquiryCount": 0, "createdAt": now(),
                   "content": extra.pop("content", "<p>부드러운 <strong>면</strong> 소재</p>"),
                   "images": [{"imageId": image_id, "url": f"/api/product-service/images/{image_id}"}], "unitsSold": 0}
        product.update(extra)
        self.products[product_id] = product
        return product

    def add_coupon(self, name: str, value: int, remaining: int | None = 10, kind: str = "FIXED") -> dict[str, Any]:
        coupon = {"couponId": next(self.ids), "name": name, "description": f"{name}!", "discountType": kind,
                  "discountValue": value, "maxDiscount": None, "minOrderAmount": None, "productId": None,
                  "quantity": remaining, "remaining": remaining, "startsAt": None, "endsAt": None}
        self.coupons[coupon["couponId"]] = coupon
        return coupon

    def expire_access_tokens(self) -> None:
        self.access = {token: (login, 0.0) for token, (login, _) in self.access.items()}

    def tokens_for(self, login_id: str) -> dict[str, Any]:
        access, refresh = f"acc-{next(self.ids)}", f"ref-{next(self.ids)}"
        self.access[access] = (login_id, time.time() + self.access_ttl)
        self.refresh[refresh] = login_id
        member = self.members[login_id]
        return {"accessToken": access, "refreshToken": refresh, "tokenType": "Bearer", "expiresIn": self.access_ttl,
                "member": {"memberId": member["memberId"], "loginId": login_id, "memberName": member["memberName"],
                           "role": "member"}}

    def summary(self, product: dict[str, Any], login: str | None) -> dict[str, Any]:
        likes = sum(1 for _, pid in self.likes if pid == product["productId"])
        inquiries = sum(1 for i in self.inquiries.values() if i["productId"] == product["productId"])
        return {**product, "likeCount": likes, "liked": (login, product["productId"]) in self.likes,
                "inquiryCount": inquiries}


def build_gateway(shop: FakeShop) -> FastAPI:
    """The contract's endpoints the storefront uses, answering from `shop`."""
    app = FastAPI()

    def caller(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip()
        entry = shop.access.get(token)
        if not entry or entry[1] < time.time():
            return None
        return entry[0]

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Any:
        shop.calls.append((request.method, request.url.path, dict(request.headers)))
        if shop.down:
            return problem(503, "SERVICE_UNAVAILABLE")
        if request.headers.get("authorization") and caller(request) is None:
            return problem(401, "UNAUTHORIZED", "invalid or expired token")  # as the real services do
        response = await call_next(request)
        return response

    def member_only(request: Request) -> str | JSONResponse:
        login = caller(request)
        return login if login else problem(401, "UNAUTHORIZED")

    # --- user-service --------------------------------------------------------------------------------
    @app.post("/api/user-service/members")
    async def sign_up(request: Request) -> Response:
        body = await request.json()
        login = body.get("loginId", "")
        if login.startswith("reject"):  # the service refuses a field the storefront let through
            return problem(422, "VALIDATION_ERROR", errors=[{"loc": ["body", "phoneNumber"], "field": "phoneNumber",
                                                             "msg": "bad phone", "type": "value_error"}])
        if login in shop.members:
            return problem(409, "LOGIN_ID_TAKEN")
        if any(m["email"] == body.get("email") for m in shop.members.values()):
            return problem(409, "EMAIL_TAKEN")
        member = shop.add_member(login, body["password"], body.get("memberName") or "")
        member.update({k: body.get(k) for k in ("phoneNumber", "email", "postNumber", "address", "addressDetail")})
        return JSONResponse(member, status_code=201)

    @app.get("/api/user-service/members/login-id/duplicate")
    async def duplicate(loginId: str) -> dict[str, bool]:  # noqa: N803
        return {"duplicate": loginId in shop.members}

    @app.post("/api/user-service/login")
    async def login(request: Request) -> Response:
        body = await request.json()
        if shop.passwords.get(body.get("loginId")) != body.get("password"):
            return problem(401, "INVALID_CREDENTIALS")
        return JSONResponse(shop.tokens_for(body["loginId"]))

    @app.post("/api/user-service/token/refresh")
    async def refresh(request: Request) -> Response:
        shop.refresh_calls += 1
        token = (await request.json()).get("refreshToken")
        login = shop.refresh.pop(token, None)
        if login is None:
            if token in shop.used_refresh:  # reuse: the whole family dies
                shop.refresh = {t: m for t, m in shop.refresh.items() if m != shop.refresh.get(token)}
            return problem(401, "INVALID_TOKEN")
        shop.used_refresh.add(token)
        return JSONResponse(shop.tokens_for(login))

    @app.post("/api/user-service/logout")
    async def logout(request: Request) -> Response:
        token = (await request.json()).get("refreshToken")
        shop.refresh.pop(token, None)
        return Response(status_code=204)

    @app.get("/api/user-service/members/me")
    async def me(request: Request) -> Any:
        login = member_only(request)
        return login if isinstance(login, Response) else shop.members[login]

    @app.put("/api/user-service/members/me")
    async def edit_me(request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        body = await request.json()
        if any(m["email"] == body.get("email") and k != login for k, m in shop.members.items()):
            return problem(409, "EMAIL_TAKEN")
        shop.members[login].update(body)
        return shop.members[login]

    @app.put("/api/user-service/members/me/password")
    async def password(request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        body = await request.json()
        if shop.passwords[login] != body.get("currentPassword"):
            return problem(401, "INVALID_CREDENTIALS")
        shop.passwords[login] = body["newPassword"]
        return Response(status_code=204)

    @app.delete("/api/user-service/members/me")
    async def withdraw(request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        if shop.passwords[login] != (await request.json()).get("password"):
            return problem(401, "INVALID_CREDENTIALS")
        shop.members.pop(login)
        shop.passwords.pop(login)
        return Response(status_code=204)

    @app.get("/api/user-service/members/me/summary")
    async def summary(request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        orders = [o for o in shop.orders.values() if o["_login"] == login]
        return {"member": shop.members[login], "payMoney": {"balance": shop.wallets.get(login, 0)},
                "recentOrders": [_public(o) for o in orders[-5:][::-1]],
                "recentLikes": [shop.summary(shop.products[pid], login) for m, pid in shop.likes if m == login],
                "unavailable": []}

    @app.post("/api/user-service/members/find-login-id")
    async def find_login_id() -> Response:
        return Response(status_code=202)

    @app.post("/api/user-service/members/password-reset")
    async def reset() -> Response:
        return Response(status_code=202)

    @app.post("/api/user-service/members/password-reset/confirm")
    async def reset_confirm(request: Request) -> Response:
        body = await request.json()
        if body.get("token") != "good-token":
            return problem(400, "INVALID_TOKEN")
        return Response(status_code=204)

    # --- product-service -------------------------------------------------------------------------------
    @app.get("/api/product-service/products/search")
    async def search(request: Request) -> Any:
        q = request.query_params
        shop.searches.append(dict(q))
        items = [p for p in shop.products.values() if not p.get("_deleted")]
        if q.get("keyword"):
            items = [p for p in items if q["keyword"] in p["name"] or q["keyword"] in p["description"]]
        if q.get("style"):
            items = [p for p in items if q["style"] in p["productStyles"]]
        if q.get("minPrice"):
            items = [p for p in items if p["unitPrice"] >= int(q["minPrice"])]
        if q.get("maxPrice"):
            items = [p for p in items if p["unitPrice"] <= int(q["maxPrice"])]
        if q.get("sort") == "priceAsc":
            items.sort(key=lambda p: p["unitPrice"])
        page, size = int(q.get("page", 1)), int(q.get("size", 20))
        if size > 100:
            return problem(422, "VALIDATION_ERROR", errors=[{"loc": ["query", "size"], "field": "size", "msg": "big"}])
        chunk = items[(page - 1) * size: page * size]
        suggestion = next((p["name"] for p in shop.products.values() if q.get("keyword") and not items
                           and p["name"][:1] == q["keyword"][:1]), None)
        return {"items": [shop.summary(p, None) for p in chunk], "page": page, "size": size, "total": len(items),
                "didYouMean": suggestion}

    @app.get("/api/product-service/products/autocomplete")
    async def autocomplete(request: Request) -> Any:
        prefix = request.query_params.get("prefix", "")
        if len(prefix) > 100:
            return problem(422, "VALIDATION_ERROR", errors=[{"loc": ["query", "prefix"], "field": "prefix",
                                                             "msg": "long"}])
        found = [p for p in shop.products.values() if prefix and p["name"].replace(" ", "").startswith(
            prefix.replace(" ", ""))]
        return {"items": [{"text": p["name"], "productId": p["productId"]} for p in found[:10]]}

    @app.get("/api/product-service/products/best")
    async def best() -> Any:
        return [shop.summary(p, None) for p in list(shop.products.values())[:8]]

    @app.get("/api/product-service/styles/popular")
    async def popular() -> Any:
        return [{"style": "캐주얼", "products": [shop.summary(p, None) for p in list(shop.products.values())[:4]]}]

    @app.get("/api/product-service/types")
    async def types() -> Any:
        return [{"productTypeId": 1, "type": "상의"}, {"productTypeId": 2, "type": "하의"}]

    @app.get("/api/product-service/styles")
    async def styles() -> Any:
        return [{"style": "캐주얼", "productCount": len(shop.products)}]

    @app.get("/api/product-service/banners")
    async def banners() -> Any:
        return [{"bannerId": 1, "imageUrl": "/api/product-service/images/1", "linkUrl": "/search?sort=newest",
                 "position": 1},
                {"bannerId": 2, "imageUrl": "/api/product-service/images/2", "linkUrl": "/coupons", "position": 2}]

    @app.get("/api/product-service/images/{image_id}")
    async def image(image_id: int, request: Request) -> Response:
        if request.headers.get("if-none-match") == f'"img-{image_id}"':
            return Response(status_code=304, headers={"ETag": f'"img-{image_id}"'})
        return Response(PNG, media_type="image/png",
                        headers={"ETag": f'"img-{image_id}"', "Cache-Control": "public, max-age=31536000"})

    @app.get("/api/product-service/products/{product_id}")
    async def product(product_id: int, request: Request) -> Any:
        found = shop.products.get(product_id)
        if not found or found.get("_deleted"):
            return problem(404, "PRODUCT_NOT_FOUND")
        return shop.summary(found, caller(request))

    @app.put("/api/product-service/products/{product_id}/like")
    async def like(product_id: int, request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        shop.likes.add((login, product_id))
        return Response(status_code=204)

    @app.delete("/api/product-service/products/{product_id}/like")
    async def unlike(product_id: int, request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        shop.likes.discard((login, product_id))
        return Response(status_code=204)

    @app.get("/api/product-service/members/me/likes")
    async def my_likes(request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        items = [shop.summary(shop.products[pid], login) for m, pid in shop.likes if m == login]
        return {"items": items, "page": 1, "size": 12, "total": len(items)}

    @app.get("/api/product-service/products/{product_id}/inquiries")
    async def inquiries(product_id: int, request: Request) -> Any:
        login = caller(request)
        items = [{**i, "mine": i["_login"] == login} for i in shop.inquiries.values() if i["productId"] == product_id]
        return {"items": [{k: v for k, v in i.items() if not k.startswith("_")} for i in items[::-1]],
                "page": 1, "size": 10, "total": len(items)}

    @app.post("/api/product-service/products/{product_id}/inquiries")
    async def ask(product_id: int, request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        inquiry = {"inquiryId": next(shop.ids), "productId": product_id, "content": (await request.json())["content"],
                   "memberName": shop.members[login]["memberName"], "createdAt": now(), "answer": None,
                   "_login": login}
        shop.inquiries[inquiry["inquiryId"]] = inquiry
        return JSONResponse({k: v for k, v in inquiry.items() if not k.startswith("_")}, status_code=201)

    @app.delete("/api/product-service/inquiries/{inquiry_id}")
    async def delete_inquiry(inquiry_id: int, request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        inquiry = shop.inquiries.get(inquiry_id)
        if not inquiry or inquiry["_login"] != login:
            return problem(404, "NOT_FOUND")
        del shop.inquiries[inquiry_id]
        return Response(status_code=204)

    # --- order-service ---------------------------------------------------------------------------------
    def cart_of(login: str) -> dict[str, Any]:
        items = []
        for line in shop.carts.get(login, {}).values():
            product = shop.products[line["productId"]]
            items.append({"cartItemId": line["cartItemId"], "productId": product["productId"], "name": product["name"],
                          "thumbnailUrl": product["thumbnailUrl"], "unitPrice": product["unitPrice"],
                          "quantity": line["quantity"], "lineTotal": product["unitPrice"] * line["quantity"],
                          "available": True})
        return {"items": items, "total": sum(i["lineTotal"] for i in items)}

    @app.get("/api/order-service/cart")
    async def cart(request: Request) -> Any:
        login = member_only(request)
        return login if isinstance(login, Response) else cart_of(login)

    @app.post("/api/order-service/cart/items")
    async def add_item(request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        body = await request.json()
        product = shop.products.get(body["productId"])
        if not product:
            return problem(404, "PRODUCT_NOT_FOUND")
        lines = shop.carts.setdefault(login, {})
        line = lines.get(product["productId"]) or {"cartItemId": next(shop.ids), "productId": product["productId"],
                                                   "quantity": 0}
        if line["quantity"] + body["quantity"] > product["quantity"]:
            return problem(409, "OUT_OF_STOCK")
        line["quantity"] += body["quantity"]
        lines[product["productId"]] = line
        return JSONResponse(line, status_code=201)

    @app.patch("/api/order-service/cart/items/{item_id}")
    async def patch_item(item_id: int, request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        for line in shop.carts.get(login, {}).values():
            if line["cartItemId"] == item_id:
                quantity = (await request.json())["quantity"]
                if quantity > shop.products[line["productId"]]["quantity"]:
                    return problem(409, "OUT_OF_STOCK")
                line["quantity"] = quantity
                return line
        return problem(404, "NOT_FOUND")

    @app.delete("/api/order-service/cart/items/{item_id}")
    async def delete_item(item_id: int, request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        lines = shop.carts.get(login, {})
        for key, line in list(lines.items()):
            if line["cartItemId"] == item_id:
                del lines[key]
                return Response(status_code=204)
        return problem(404, "NOT_FOUND")

    @app.get("/api/order-service/wallet")
    async def wallet(request: Request) -> Any:
        login = member_only(request)
        return login if isinstance(login, Response) else {"balance": shop.wallets.get(login, 0)}

    @app.get("/api/order-service/wallet/transactions")
    async def transactions(request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        items = shop.transactions.get(login, [])[::-1]
        return {"items": items, "page": 1, "size": 10, "total": len(items)}

    def move(login: str, kind: str, amount: int, order_id: int | None = None) -> None:
        shop.wallets[login] = shop.wallets.get(login, 0) + (amount if kind != "PAYMENT" else -amount)
        shop.transactions.setdefault(login, []).append(
            {"type": kind, "amount": amount, "balanceAfter": shop.wallets[login], "orderId": order_id,
             "createdAt": now()})

    @app.post("/api/order-service/wallet/charge")
    async def charge(request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        amount = (await request.json()).get("amount")
        if not isinstance(amount, int) or not 1000 <= amount <= 2_000_000:
            return problem(422, "VALIDATION_ERROR", errors=[{"loc": ["body", "amount"], "field": "amount", "msg": "x"}])
        move(login, "CHARGE", amount)
        return {"balance": shop.wallets[login]}

    @app.get("/api/order-service/coupons")
    async def coupons() -> Any:
        return list(shop.coupons.values())

    @app.post("/api/order-service/coupons/{coupon_id}/issue")
    async def issue(coupon_id: int, request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        coupon = shop.coupons.get(coupon_id)
        if not coupon:
            return problem(404, "NOT_FOUND")
        held = shop.member_coupons.setdefault(login, [])
        if any(c["couponId"] == coupon_id for c in held):
            return problem(409, "ALREADY_ISSUED")
        if coupon["remaining"] is not None and coupon["remaining"] <= 0:
            return problem(410, "SOLD_OUT")
        if coupon["remaining"] is not None:
            coupon["remaining"] -= 1
        held.append({"memberCouponId": next(shop.ids), "couponId": coupon_id, "name": coupon["name"],
                     "discountType": coupon["discountType"], "discountValue": coupon["discountValue"],
                     "maxDiscount": coupon["maxDiscount"], "productId": coupon["productId"], "used": False,
                     "usedOrderId": None, "expiresAt": None})
        return JSONResponse({"couponId": coupon_id, "status": "ISSUED"}, status_code=201)

    @app.get("/api/order-service/members/me/coupons")
    async def my_coupons(request: Request) -> Any:
        login = member_only(request)
        return login if isinstance(login, Response) else shop.member_coupons.get(login, [])

    @app.post("/api/order-service/orders")
    async def place(request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        if not request.headers.get("idempotency-key"):
            return problem(400, "IDEMPOTENCY_KEY_REQUIRED")
        body = await request.json()
        if body.get("fromCart"):
            lines = [{"productId": i["productId"], "quantity": i["quantity"]} for i in cart_of(login)["items"]]
            for line in lines:
                coupon = (body.get("couponsByProduct") or {}).get(str(line["productId"]))
                if coupon:
                    line["memberCouponId"] = coupon
        else:
            lines = body["items"]
        items, total, discount = [], 0, 0
        for line in lines:
            product = shop.products[line["productId"]]
            line_total = product["unitPrice"] * line["quantity"]
            off = 0
            for c in shop.member_coupons.get(login, []):
                if c["memberCouponId"] == line.get("memberCouponId"):
                    off = min(c["discountValue"], line_total)
            items.append({"productId": product["productId"], "name": product["name"], "unitPrice": product["unitPrice"],
                          "quantity": line["quantity"], "memberCouponId": line.get("memberCouponId"), "discount": off,
                          "lineTotal": line_total - off})
            total += line_total
            discount += off
        if shop.wallets.get(login, 0) < total - discount:
            return problem(402, "INSUFFICIENT_PAY_MONEY")
        order = {"orderId": next(shop.ids), "status": "PENDING", "cancelReason": None, "items": items,
                 "totalAmount": total, "discountAmount": discount, "payAmount": total - discount,
                 "receiver": body["receiver"], "createdAt": now(), "updatedAt": now(), "_login": login, "_polls": 0}
        shop.orders[order["orderId"]] = order
        return JSONResponse(_public(order), status_code=202)

    @app.get("/api/order-service/orders")
    async def orders(request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        mine = [_public(o) for o in shop.orders.values() if o["_login"] == login][::-1]
        return {"items": mine, "page": 1, "size": 10, "total": len(mine)}

    @app.get("/api/order-service/orders/{order_id}")
    async def order(order_id: int, request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        found = shop.orders.get(order_id)
        if not found or found["_login"] != login:
            return problem(404, "NOT_FOUND")
        found["_polls"] += 1
        if found["status"] == "PENDING" and found["_polls"] >= 2:  # the saga ends a moment later
            short = any(i["quantity"] > shop.products[i["productId"]]["quantity"] for i in found["items"])
            if short:
                found.update(status="CANCELLED", cancelReason="OUT_OF_STOCK")
            else:
                found["status"] = "CONFIRMED"
                move(login, "PAYMENT", found["payAmount"], order_id)
        return _public(found)

    @app.post("/api/order-service/orders/{order_id}/cancel")
    async def cancel(order_id: int, request: Request) -> Any:
        login = member_only(request)
        if isinstance(login, Response):
            return login
        found = shop.orders.get(order_id)
        if not found or found["_login"] != login:
            return problem(404, "NOT_FOUND")
        if found["status"] == "CANCELLED":
            return problem(409, "NOT_CANCELLABLE")
        if found["status"] == "CONFIRMED":
            move(login, "REFUND", found["payAmount"], order_id)
        found.update(status="CANCELLED", cancelReason="CANCELLED_BY_MEMBER")
        return JSONResponse(_public(found), status_code=202)

    return app


def _public(order: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in order.items() if not k.startswith("_")}


@pytest.fixture(scope="session", autouse=True)
def json_logs() -> None:
    """Log as the service does in production (JSON lines; the dev console renderer is slow on tracebacks)."""
    from gluta_kit.logging import setup_logging

    setup_logging("storefront", "WARNING")


@pytest.fixture
def shop() -> FakeShop:
    shop = FakeShop()
    shop.add_member("alice", "secret123", "앨리스")
    shop.add_product("린넨 셔츠", 39_000, quantity=5, styles=["캐주얼", "여름"])
    shop.add_product("데님 팬츠", 59_000, quantity=3)
    shop.add_coupon("웰컴 쿠폰", 3_000, remaining=5)
    shop.add_coupon("선착순 쿠폰", 5_000, remaining=0)
    return shop


@dataclass
class Storefront:
    """The storefront under test, its stand-in gateway and a browser-like client."""

    client: httpx.AsyncClient
    shop: FakeShop
    app: Any

    async def csrf(self, path: str = "/login") -> str:
        """Open a page with a form and return the CSRF token in it."""
        page = await self.client.get(path)
        marker = 'name="csrf_token" value="'
        start = page.text.index(marker) + len(marker)
        return page.text[start:page.text.index('"', start)]

    async def login(self, login_id: str = "alice", password: str = "secret123") -> None:
        token = await self.csrf("/login")
        response = await self.client.post("/login", data={"loginId": login_id, "password": password,
                                                          "csrf_token": token, "next": "/"})
        assert response.status_code == 303, response.text


@pytest.fixture
async def gateway_url(shop: FakeShop) -> AsyncIterator[str]:
    """The stand-in gateway, served on a free port."""
    async with serving(build_gateway(shop)) as url:
        yield url


@pytest.fixture
async def storefront(tmp_path: Path, shop: FakeShop, gateway_url: str) -> AsyncIterator[Storefront]:
    settings = make_settings(StorefrontSettings, tmp_path, gateway_url=gateway_url, public_cache_seconds=0)
    app = create_app(settings)
    async with running(app) as client:
        yield Storefront(client, shop, app)
