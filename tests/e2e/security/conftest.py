"""The system the security tests attack, and the people who use it.

One set of real processes for the whole folder (`attacked`): NATS, discovery, user, product, order and
the gateway on free ports, with three changes to their settings, said here once:
- the gateway's rate limits are out of the way (the fuzzer and the login storm come from one address;
  the gateway's own limits have their tests in services/gateway), so what answers is the service;
- the user service's lockout lasts 10 s instead of 5 minutes, so the owner can log in again within a test;
- the user service encrypts its signing keys with a secret this file knows, so the tests can sign tokens
  with the real key (expired ones, wrong issuer) — what an attacker who stole nothing cannot do.

`actors` holds an administrator, a member (the owner of things), another member, a withdrawn member whose
token was taken before withdrawing, an expired token, and the things the owner has: a cart line, an order,
an inquiry; plus a product, a type, an image, a banner and a coupon.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

SIGNING_SECRET = "security-tests-signing-key-secret"
PASSWORD = "secret-pass-1"
RECEIVER = {"name": "김지수", "phoneNumber": "010-1234-5678", "postNumber": "04524", "address": "서울시 중구",
            "addressDetail": "1층"}
SETTINGS = {
    "gateway": {"GLUTA_RATE_LIMIT_GUEST_PER_SECOND": "100000", "GLUTA_RATE_LIMIT_GUEST_BURST": "100000",
                "GLUTA_RATE_LIMIT_MEMBER_PER_SECOND": "100000", "GLUTA_RATE_LIMIT_MEMBER_BURST": "100000"},
    "user": {"GLUTA_KEY_ENCRYPTION_SECRET": SIGNING_SECRET, "GLUTA_LOGIN_LOCKOUT_SECONDS": "10"},
}


def png(colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A small real PNG."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(out, format="PNG")
    return out.getvalue()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Member:
    """A signed-up member with the tokens of a login."""

    login_id: str
    member_id: int
    name: str
    token: str
    refresh: str
    password: str = PASSWORD

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Attack:
    """The cluster, its URLs, and the moves the security tests repeat."""

    cluster: Any
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    admin: str = ""

    # --- where ---------------------------------------------------------------------------------------
    def url(self, service: str, path: str, *, direct: bool = False) -> str:
        """The URL of a service's path: through the gateway, or straight at the service."""
        if direct:
            return f"{self.cluster.url(service)}{path}"
        return f"{self.cluster.gateway}/api/{service}-service{path}"

    def call(self, method: str, service: str, path: str, token: str | None = None, *, direct: bool = False,
             headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        """One request, with a bearer token when given."""
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.url(service, path, direct=direct), headers=sent, **kwargs)

    def ok(self, response: httpx.Response, *statuses: int) -> Any:
        assert response.status_code in (statuses or (200,)), f"{response.request.url}: {response.text}"
        return response.json() if response.content else None

    # --- people --------------------------------------------------------------------------------------
    def login(self, login_id: str, password: str = PASSWORD, *, admin: bool = False) -> dict[str, Any]:
        path = "/admin/login" if admin else "/login"
        return dict(self.ok(self.call("POST", "user", path, json={"loginId": login_id, "password": password})))

    def signup(self, prefix: str = "m", name: str = "김지수") -> Member:
        """Sign a new member up and log in."""
        login_id = f"{prefix}{uuid.uuid4().hex[:10]}"
        body = {"loginId": login_id, "password": PASSWORD, "memberName": name, "phoneNumber": "010-1234-5678",
                "email": f"{login_id}@example.com"}
        created = self.ok(self.call("POST", "user", "/members", json=body), 201)
        tokens = self.login(login_id)
        return Member(login_id, int(created["memberId"]), name, tokens["accessToken"], tokens["refreshToken"])

    # --- tokens signed by hand -----------------------------------------------------------------------
    def signing_key(self) -> tuple[str, Any]:
        """The user service's current signing key (kid, private key), read from its database."""
        with sqlite3.connect(self.cluster.data_dir / "db" / "user.db") as db:
            kid, pem = db.execute("SELECT kid, private_key_pem FROM signing_keys WHERE retired_at IS NULL "
                                  "ORDER BY signs_from DESC LIMIT 1").fetchone()
        return kid, serialization.load_pem_private_key(pem.encode(), SIGNING_SECRET.encode())

    def claims(self, member_id: int, role: str = "member", **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"sub": str(member_id), "role": role, "iss": "gluta-user", "aud": "gluta", "iat": now,
                  "exp": now + 600, "jti": uuid.uuid4().hex}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, claims: dict[str, Any]) -> str:
        """A token signed with the real key (what only the user service can make)."""
        kid, key = self.signing_key()
        return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})

    def unsigned(self, claims: dict[str, Any], header: dict[str, Any]) -> str:
        """A token with any header and no signature (`alg: none`)."""
        return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}."

    def hmac_signed(self, claims: dict[str, Any], secret: bytes, kid: str) -> str:
        """A token signed with HS256 and `secret` (the algorithm-confusion attack)."""
        head = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        body = b64url(json.dumps(claims).encode())
        signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{b64url(signature)}"

    # --- things --------------------------------------------------------------------------------------
    def new_type(self) -> int:
        body = {"type": f"보안-{uuid.uuid4().hex[:6]}"}
        return int(self.ok(self.call("POST", "product", "/types", self.admin, json=body), 201)["productTypeId"])

    def new_image(self) -> int:
        files = {"file": ("a.png", png(), "image/png")}
        return int(self.ok(self.call("POST", "product", "/images", self.admin, files=files), 201)["imageId"])

    def new_product(self, type_id: int, **fields: Any) -> int:
        body = {"name": f"울 니트 {uuid.uuid4().hex[:6]}", "description": "따뜻한 니트", "content": "<p>울 소재</p>",
                "productTypeId": type_id, "productStyles": ["보안"], "unitPrice": 10_000, "quantity": 1_000,
                "imageIds": []}
        body.update(fields)
        return int(self.ok(self.call("POST", "product", "/products", self.admin, json=body), 201)["productId"])

    def new_banner(self) -> int:
        files = {"file": ("b.png", png((10, 200, 10)), "image/png")}
        data = {"linkUrl": "/products", "position": "1"}
        created = self.call("POST", "product", "/banners", self.admin, files=files, data=data)
        return int(self.ok(created, 201)["bannerId"])

    def new_coupon(self) -> int:
        body = {"name": "보안 쿠폰", "description": "", "discountType": "FIXED", "discountValue": 1_000}
        return int(self.ok(self.call("POST", "order", "/coupons", self.admin, json=body), 201)["couponId"])

    def new_cart_item(self, member: Member, product_id: int) -> int:
        """Put a product in the member's cart (retried while order-service's copy has not caught up)."""
        deadline = time.monotonic() + 30
        while True:
            added = self.call("POST", "order", "/cart/items", member.token,
                              json={"productId": product_id, "quantity": 1})
            if added.status_code == 201 or time.monotonic() > deadline:
                return int(self.ok(added, 201)["cartItemId"])
            time.sleep(0.3)

    def new_order(self, member: Member, product_id: int) -> int:
        """Place an order of one unit and wait until it is CONFIRMED."""
        self.ok(self.call("POST", "order", "/wallet/charge", member.token, json={"amount": 50_000},
                          headers={"Idempotency-Key": uuid.uuid4().hex}))
        deadline = time.monotonic() + 30
        while True:
            placed = self.call("POST", "order", "/orders", member.token, headers={"Idempotency-Key": uuid.uuid4().hex},
                               json={"items": [{"productId": product_id, "quantity": 1}], "receiver": RECEIVER})
            if placed.status_code == 202 or time.monotonic() > deadline:
                order_id = int(self.ok(placed, 202)["orderId"])
                break
            time.sleep(0.3)
        while time.monotonic() < deadline:
            if self.ok(self.call("GET", "order", f"/orders/{order_id}", member.token))["status"] == "CONFIRMED":
                return order_id
            time.sleep(0.2)
        raise AssertionError(f"order {order_id} was not confirmed in time")

    def new_inquiry(self, member: Member, product_id: int, content: str = "사이즈 문의드려요") -> int:
        created = self.call("POST", "product", f"/products/{product_id}/inquiries", member.token,
                            json={"content": content})
        return int(self.ok(created, 201)["inquiryId"])


@dataclass
class Actors:
    """Who uses the system, and what the owner has."""

    attack: Attack
    admin: str
    owner: Member
    other: Member
    withdrawn: Member
    expired: str
    type_id: int
    image_id: int
    product_id: int
    banner_id: int
    coupon_id: int
    cart_item_id: int
    order_id: int
    inquiry_id: int


@pytest.fixture(scope="package")
def attacked(cluster_class: type, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Attack]:
    """The running system under attack (real processes, free ports), for every test of this folder."""
    cluster = cluster_class(tmp_path_factory.mktemp("attacked"), settings=SETTINGS)
    try:
        cluster.start_all()
        attack = Attack(cluster)
        attack.admin = attack.login(*cluster.admin, admin=True)["accessToken"]
        yield attack
        attack.http.close()
    finally:
        cluster.stop_all()


def make_actors(a: Attack) -> Actors:
    """Sign the people up and make their things, through the gateway."""
    owner, other, withdrawn = a.signup("owner"), a.signup("other"), a.signup("gone")
    a.ok(a.call("DELETE", "user", "/members/me", withdrawn.token, json={"password": PASSWORD}), 204)
    type_id = a.new_type()
    image_id = a.new_image()
    product_id = a.new_product(type_id, imageIds=[image_id])
    expired = a.sign(a.claims(owner.member_id, iat=int(time.time()) - 1000, exp=int(time.time()) - 100))
    return Actors(a, a.admin, owner, other, withdrawn, expired, type_id, image_id, product_id, a.new_banner(),
                  a.new_coupon(), a.new_cart_item(owner, product_id), a.new_order(owner, product_id),
                  a.new_inquiry(owner, product_id))


@pytest.fixture(scope="package")
def actors(attacked: Attack) -> Actors:
    """The people and their things (made once)."""
    return make_actors(attacked)
