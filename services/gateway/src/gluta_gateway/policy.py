"""The route policy: every public route of API.md, who may call it. Anything else is refused (404).

Paths are the services' own paths (after `/api/<name>-service` is stripped); `{name}` is one path
segment. Access: GUEST = anyone (a token, if sent, is passed on so the service can personalise),
MEMBER = a member's token, ADMIN = an admin's token, MEMBER_OR_ADMIN = either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


class Access(StrEnum):
    GUEST = "guest"
    MEMBER = "member"
    ADMIN = "admin"
    MEMBER_OR_ADMIN = "member-or-admin"

    def allows(self, role: str | None) -> bool:
        """Return whether a caller with `role` (None for a guest) may call the route."""
        if self is Access.GUEST:
            return True
        if self is Access.MEMBER_OR_ADMIN:
            return role in ("member", "admin")
        return role == self.value


G, M, A, MA = Access.GUEST, Access.MEMBER, Access.ADMIN, Access.MEMBER_OR_ADMIN

# (service, method, path, access) — the table of API.md, in its order, and of docs/API-additions.md.
ROUTES: list[tuple[str, str, str, Access]] = [
    # --- user-service ---------------------------------------------------------------------------
    ("user", "POST", "/members", G),
    ("user", "GET", "/members/login-id/duplicate", G),
    ("user", "POST", "/login", G),
    ("user", "POST", "/admin/login", G),
    ("user", "POST", "/token/refresh", G),
    ("user", "POST", "/logout", MA),
    ("user", "GET", "/members/me", M),
    ("user", "PUT", "/members/me", M),
    ("user", "PUT", "/members/me/password", M),
    ("user", "DELETE", "/members/me", M),
    ("user", "GET", "/members/me/summary", M),
    ("user", "POST", "/members/find-login-id", G),
    ("user", "POST", "/members/password-reset", G),
    ("user", "POST", "/members/password-reset/confirm", G),
    ("user", "GET", "/admin/members", A),
    ("user", "GET", "/.well-known/jwks.json", G),
    # --- product-service ------------------------------------------------------------------------
    ("product", "GET", "/products/search", G),
    ("product", "GET", "/products/autocomplete", G),  # docs/API-additions.md
    ("product", "GET", "/products/{productId}", G),  # personalised (`liked`) when a token is sent
    ("product", "POST", "/products", A),
    ("product", "PUT", "/products/{productId}", A),
    ("product", "DELETE", "/products/{productId}", A),
    ("product", "POST", "/images", A),
    ("product", "GET", "/images/{imageId}", G),
    ("product", "GET", "/types", G),
    ("product", "POST", "/types", A),
    ("product", "DELETE", "/types/{productTypeId}", A),
    ("product", "GET", "/styles", G),
    ("product", "POST", "/products/{productId}/styles", A),
    ("product", "DELETE", "/products/{productId}/styles/{style}", A),
    ("product", "GET", "/styles/popular", G),
    ("product", "GET", "/products/best", G),
    ("product", "PUT", "/products/{productId}/like", M),
    ("product", "DELETE", "/products/{productId}/like", M),
    ("product", "GET", "/members/me/likes", M),
    ("product", "GET", "/products/{productId}/inquiries", G),
    ("product", "POST", "/products/{productId}/inquiries", M),
    ("product", "DELETE", "/inquiries/{inquiryId}", M),
    ("product", "GET", "/admin/inquiries", A),
    ("product", "PUT", "/inquiries/{inquiryId}/answer", A),
    ("product", "DELETE", "/inquiries/{inquiryId}/answer", A),
    ("product", "GET", "/banners", G),
    ("product", "POST", "/banners", A),
    ("product", "PUT", "/banners/{bannerId}", A),
    ("product", "DELETE", "/banners/{bannerId}", A),
    # --- order-service --------------------------------------------------------------------------
    ("order", "GET", "/cart", M),
    ("order", "POST", "/cart/items", M),
    ("order", "PATCH", "/cart/items/{cartItemId}", M),
    ("order", "DELETE", "/cart/items/{cartItemId}", M),
    ("order", "GET", "/wallet", M),
    ("order", "GET", "/wallet/transactions", M),
    ("order", "POST", "/wallet/charge", M),
    ("order", "POST", "/orders", M),
    ("order", "GET", "/orders/{orderId}", M),
    ("order", "GET", "/orders", M),
    ("order", "POST", "/orders/{orderId}/cancel", M),
    ("order", "GET", "/coupons", G),
    ("order", "POST", "/coupons/{couponId}/issue", M),
    ("order", "GET", "/members/me/coupons", M),
    ("order", "POST", "/coupons", A),
    ("order", "DELETE", "/coupons/{couponId}", A),
    ("order", "GET", "/admin/coupons", A),
    ("order", "GET", "/admin/orders", A),
    ("order", "GET", "/admin/dashboard/sales", A),
    ("order", "GET", "/admin/dashboard/vip", A),
    ("order", "GET", "/admin/dashboard/best-products", A),
    # --- docs/API-additions.md (routes added after shared/API.md) ------------------------------------
    ("product", "GET", "/synonyms", A),
    ("product", "PUT", "/synonyms", A),
]

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _compile(template: str) -> re.Pattern[str]:
    parts = _PARAM.split(template)  # literal, name, literal, name, ..., literal
    return re.compile("^" + "".join(re.escape(part) if i % 2 == 0 else "[^/]+" for i, part in enumerate(parts)) + "$")


def public_prefix(service: str) -> str:
    """Return the public path prefix of a service: `/api/<name>-service`."""
    return f"/api/{service}-service"


@dataclass(frozen=True)
class Rule:
    """One public route. `path` is the public template (also the metrics label of proxied requests)."""

    service: str
    method: str
    template: str
    access: Access
    path: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", public_prefix(self.service) + self.template)


@dataclass
class _Table:
    static: dict[str, Rule] = field(default_factory=dict)
    dynamic: list[tuple[re.Pattern[str], Rule]] = field(default_factory=list)


class Policy:
    """Find the rule of a (service, method, path); static paths win over templates with parameters."""

    def __init__(self, routes: list[tuple[str, str, str, Access]] = ROUTES) -> None:
        self.rules = [Rule(service, method.upper(), path, access) for service, method, path, access in routes]
        self._tables: dict[tuple[str, str], _Table] = {}
        for rule in self.rules:
            table = self._tables.setdefault((rule.service, rule.method), _Table())
            if "{" in rule.template:
                table.dynamic.append((_compile(rule.template), rule))
            else:
                if rule.template in table.static:
                    raise ValueError(f"duplicate route {rule.method} {rule.path}")
                table.static[rule.template] = rule
        self.services = sorted({rule.service for rule in self.rules})

    def match(self, service: str, method: str, path: str) -> Rule | None:
        """Return the rule for a request to `service` (path without the public prefix), or None."""
        table = self._tables.get((service, method))
        if table is None:
            return None
        rule = table.static.get(path)
        if rule is not None:
            return rule
        for regex, candidate in table.dynamic:
            if regex.match(path):
                return candidate
        return None

    def rules_of(self, service: str) -> list[Rule]:
        """Return the rules of one service, in table order."""
        return [rule for rule in self.rules if rule.service == service]
