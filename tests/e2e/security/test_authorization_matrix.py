"""The authorization matrix, generated from the gateway's policy table (`gluta_gateway.policy.ROUTES`).

Every public route × every kind of caller, each asked twice: through the gateway and straight at the
service (which must verify the token again and trust no header a client can send). The answers the
rules of API.md give:
- no token on a member or admin route: 401; a valid token of the wrong role: 403;
- a bad token (expired, a withdrawn member's — every service refuses it within seconds of the withdrawal,
  by the `TokensRevoked` event) on a member or admin route: 401; on a guest route it is refused (401) or
  ignored (the route is for anyone), never honoured;
- another member's thing (cart line, order, inquiry): 404, as if it did not exist — and the owner, asked
  next, still has it;
- a caller the route is for gets past authorization: not 401/403 (its body may still be refused, 422),
  the owner of a thing gets 2xx;
- headers a client might forge to claim an identity (`X-Member-Id`, `X-Role`, …) change nothing;
- never a 5xx.
Things a call destroys (a product, a type, a banner, a coupon, a cart line, an order cancelled, an
inquiry deleted) are made for that route and that path (gateway or direct) alone; callers take their
turns in the order of `CALLERS`, so another member tries the owner's thing before the owner uses it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest

from gluta_gateway.policy import ROUTES, Access

pytestmark = pytest.mark.e2e

GUEST, FORGED_GUEST, EXPIRED, WITHDRAWN, OTHER, ADMIN, OWNER, FORGED_MEMBER = (
    "guest", "forged-guest", "expired", "withdrawn", "another-member", "admin", "member", "member-forging-admin")
CALLERS = [GUEST, FORGED_GUEST, EXPIRED, WITHDRAWN, OTHER, ADMIN, OWNER, FORGED_MEMBER]
STYLE = "보안"

# routes on things one member owns: another member gets 404, the owner 2xx
OWNED = {("order", "PATCH", "/cart/items/{cartItemId}"), ("order", "DELETE", "/cart/items/{cartItemId}"),
         ("order", "GET", "/orders/{orderId}"), ("order", "POST", "/orders/{orderId}/cancel"),
         ("product", "DELETE", "/inquiries/{inquiryId}")}
# routes that use their thing up: each path (gateway, direct) gets its own
DESTROYS = {("product", "DELETE", "/products/{productId}"), ("product", "DELETE", "/types/{productTypeId}"),
            ("product", "DELETE", "/banners/{bannerId}"), ("order", "DELETE", "/coupons/{couponId}"),
            ("order", "DELETE", "/cart/items/{cartItemId}"), ("order", "POST", "/orders/{orderId}/cancel"),
            ("product", "DELETE", "/inquiries/{inquiryId}")}
# bodies that make an allowed call succeed where success matters (owned routes) or is harmless
BODIES: dict[tuple[str, str, str], dict[str, Any]] = {
    ("order", "PATCH", "/cart/items/{cartItemId}"): {"quantity": 2},
    ("user", "POST", "/logout"): {"refreshToken": "not-a-refresh-token"},
}
QUERIES = {("user", "GET", "/members/login-id/duplicate"): {"loginId": "nobody123"}}

FORGED_HEADERS = {"X-Member-Id": "{other}", "X-User-Id": "{other}", "X-Role": "admin", "X-User-Role": "admin",
                  "X-Auth-Role": "admin", "X-Forwarded-User": "admin", "X-Authenticated-User": "{other}",
                  "X-Principal": "admin:1", "X-Internal-Token": "guess", "X-Original-URL": "/admin/members",
                  "X-Rewrite-URL": "/admin/members"}


def cells() -> list[Any]:
    out = []
    for service, method, template, access in ROUTES:
        for caller in CALLERS:
            out.append(pytest.param(service, method, template, access, caller,
                                    id=f"{method} /api/{service}-service{template} as {caller}"))
    return out


def expected(service: str, method: str, template: str, access: Access, caller: str) -> set[int] | str:
    """The statuses the rules allow: a set of refusals, or "allowed" / "owner" (2xx) for a caller let through."""
    owned = (service, method, template) in OWNED
    if caller in (GUEST, FORGED_GUEST):
        return "allowed" if access is Access.GUEST else {401}
    if caller in (EXPIRED, WITHDRAWN):
        if access is Access.GUEST:
            return "allowed-or-401"
        return {401, 403} if access is Access.ADMIN and caller == WITHDRAWN else {401}
    if caller == ADMIN:
        return {403} if access is Access.MEMBER else "allowed"
    # a member: the owner, the owner forging admin headers, or another member
    if access is Access.ADMIN:
        return {403}
    if owned:
        return {404} if caller == OTHER else "owner"
    return "allowed"


class Things:
    """The ids each route's path needs, made on first use (per path, for the routes that use them up)."""

    def __init__(self, actors: Any) -> None:
        self.actors = actors
        self.made: dict[tuple[str, ...], dict[str, Any]] = {}

    def values(self, service: str, method: str, template: str, where: str, caller: str) -> dict[str, Any]:
        # the owner forging headers uses up a thing of its own; another member tries the owner's before it does
        separate = f"{where}:{caller == FORGED_MEMBER}" if (service, method, template) in DESTROYS else ""
        key = (service, method, template, separate)
        if key not in self.made:
            self.made[key] = self._make(service, method, template) if key[3] else self._shared()
        return self.made[key]

    def _shared(self) -> dict[str, Any]:
        a = self.actors
        return {"productId": a.product_id, "imageId": a.image_id, "productTypeId": a.type_id, "style": STYLE,
                "inquiryId": a.inquiry_id, "bannerId": a.banner_id, "cartItemId": a.cart_item_id,
                "orderId": a.order_id, "couponId": a.coupon_id}

    def _make(self, service: str, method: str, template: str) -> dict[str, Any]:
        a, attack = self.actors, self.actors.attack
        values = self._shared()
        if "{productId}" in template:
            values["productId"] = attack.new_product(a.type_id)
        elif "{productTypeId}" in template:
            values["productTypeId"] = attack.new_type()
        elif "{bannerId}" in template:
            values["bannerId"] = attack.new_banner()
        elif "{couponId}" in template:
            values["couponId"] = attack.new_coupon()
        elif "{cartItemId}" in template:
            values["cartItemId"] = attack.new_cart_item(a.owner, attack.new_product(a.type_id))
        elif "{orderId}" in template:
            values["orderId"] = attack.new_order(a.owner, a.product_id)
        elif "{inquiryId}" in template:
            values["inquiryId"] = attack.new_inquiry(a.owner, a.product_id)
        return values


@pytest.fixture(scope="module")
def things(actors: Any) -> Things:
    return Things(actors)


def request_of(actors: Any, caller: str) -> tuple[str | None, dict[str, str]]:
    """The token and headers a caller sends."""
    forged = {k: v.format(other=actors.other.member_id) for k, v in FORGED_HEADERS.items()}
    return {
        GUEST: (None, {}),
        FORGED_GUEST: (None, forged),
        EXPIRED: (actors.expired, {}),
        WITHDRAWN: (actors.withdrawn.token, {}),
        OTHER: (actors.other.token, {}),
        ADMIN: (actors.admin, {}),
        OWNER: (actors.owner.token, {}),
        FORGED_MEMBER: (actors.owner.token, forged),
    }[caller]


def fill(template: str, values: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: quote(str(values[m.group(1)]), safe=""), template)


@pytest.mark.parametrize(("service", "method", "template", "access", "caller"), cells())
def test_authorization_matrix(service: str, method: str, template: str, access: Access, caller: str,
                              actors: Any, things: Things) -> None:
    rule = expected(service, method, template, access, caller)
    token, headers = request_of(actors, caller)
    body = BODIES.get((service, method, template), {} if method in ("POST", "PUT", "PATCH", "DELETE") else None)
    wrong = []
    for where in ("gateway", "direct"):
        path = fill(template, things.values(service, method, template, where, caller))
        answer = actors.attack.call(method, service, path, token, direct=where == "direct", headers=headers,
                                    json=body, params=QUERIES.get((service, method, template)))
        status = answer.status_code
        if rule == "owner":
            ok = 200 <= status < 300
        elif rule == "allowed":
            ok = status not in (401, 403) and status < 500
        elif rule == "allowed-or-401":
            ok = status != 403 and status < 500
        else:
            ok = status in rule
        if ok and status in (401, 403, 404) and rule != "allowed":
            ok = answer.headers.get("content-type") == "application/problem+json"
        if not ok:
            wrong.append(f"{where}: {status} {answer.text[:200]}")
    assert not wrong, f"expected {rule}; got " + "; ".join(wrong)

