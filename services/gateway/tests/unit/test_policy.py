"""The route policy: every route of API.md and docs/API-additions.md with its role, nothing else."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from gluta_gateway.policy import ROUTES, Access, Policy

WHO = {"G": Access.GUEST, "M": Access.MEMBER, "A": Access.ADMIN, "M/A": Access.MEMBER_OR_ADMIN}


def _api_md() -> Path | None:
    candidates = [Path(os.environ["GLUTA_API_MD"])] if os.environ.get("GLUTA_API_MD") else []
    candidates.append(Path(__file__).resolve().parents[4].parent / "shared" / "API.md")
    return next((path for path in candidates if path.is_file()), None)


def _contract_routes(text: str) -> set[tuple[str, str, str, Access]]:
    """Read (service, method, path, access) from API.md's tables."""
    routes = set()
    service = None
    for line in text.splitlines():
        heading = re.match(r"^## (\w+)-service", line)
        if heading:
            service = heading.group(1)
            continue
        if line.startswith("## "):
            service = None
        row = re.match(r"^\| (GET|POST|PUT|PATCH|DELETE) `([^`]+)` \| ([GMA/]+) \|", line)
        if row and service:
            method, path, who = row.groups()
            routes.add((service, method, path.split("?")[0], WHO[who]))
    return routes


ADDITIONS = Path(__file__).resolve().parents[4] / "docs" / "API-additions.md"


def test_the_table_is_exactly_the_contract_of_api_md_and_its_additions() -> None:
    path = _api_md()
    if path is None:
        pytest.skip("shared/API.md is not beside the repository (set GLUTA_API_MD to check against it)")
    contract = _contract_routes(path.read_text(encoding="utf-8"))
    assert len(contract) > 60  # the parser read the tables
    additions = _contract_routes(ADDITIONS.read_text(encoding="utf-8"))
    assert ("product", "GET", "/products/autocomplete", Access.GUEST) in additions
    contract |= additions
    table = set(ROUTES)
    assert contract - table == set(), "routes of API.md missing from the gateway's table"
    assert table - contract == set(), "routes in the gateway's table that API.md does not have"


@pytest.mark.parametrize(("service", "method", "path", "access"), [
    ("product", "GET", "/products/17", Access.GUEST),  # personalised, still open to guests
    ("product", "GET", "/products/search", Access.GUEST),
    ("product", "GET", "/products/autocomplete", Access.GUEST),  # not /products/{productId}
    ("product", "PUT", "/synonyms", Access.ADMIN),
    ("product", "GET", "/products/best", Access.GUEST),
    ("product", "GET", "/members/me/likes", Access.MEMBER),
    ("order", "GET", "/members/me/coupons", Access.MEMBER),
    ("user", "GET", "/members/me", Access.MEMBER),
    ("user", "POST", "/admin/login", Access.GUEST),
    ("user", "GET", "/admin/members", Access.ADMIN),
    ("user", "POST", "/logout", Access.MEMBER_OR_ADMIN),
    ("user", "GET", "/.well-known/jwks.json", Access.GUEST),
    ("product", "DELETE", "/products/5/styles/%EB%B3%B4%EC%8A%B5", Access.ADMIN),
    ("product", "PUT", "/inquiries/3/answer", Access.ADMIN),
    ("product", "DELETE", "/inquiries/3", Access.MEMBER),
    ("order", "POST", "/coupons/9/issue", Access.MEMBER),
    ("order", "GET", "/coupons", Access.GUEST),
    ("order", "GET", "/admin/dashboard/vip", Access.ADMIN),
    ("order", "PATCH", "/cart/items/4", Access.MEMBER),
])
def test_routes_resolve_to_their_role(service: str, method: str, path: str, access: Access) -> None:
    rule = Policy().match(service, method, path)
    assert rule is not None
    assert rule.access is access


@pytest.mark.parametrize(("service", "method", "path"), [
    ("product", "GET", "/internal/stock/1"),
    ("order", "POST", "/internal/orders"),
    ("user", "GET", "/internal/members/1"),
    ("product", "PATCH", "/types"),  # known path, unknown method
    ("product", "GET", "/products/1/like"),  # only PUT and DELETE
    ("user", "GET", "/members/me/likes"),  # a product-service route asked of the user service
    ("product", "GET", "/products"),
    ("product", "GET", "/products/1/extra/segments"),
    ("order", "GET", "/metrics"),
    ("user", "GET", "/health"),
    ("user", "GET", "/openapi.json"),
    ("nope", "GET", "/types"),
    ("product", "GET", ""),
])
def test_anything_else_is_refused(service: str, method: str, path: str) -> None:
    assert Policy().match(service, method, path) is None


def test_rules_carry_their_public_template() -> None:
    rule = Policy().match("product", "GET", "/products/42")
    assert rule is not None
    assert rule.path == "/api/product-service/products/{productId}"


def test_access_by_role() -> None:
    assert Access.GUEST.allows(None) and Access.GUEST.allows("admin")
    assert Access.MEMBER.allows("member") and not Access.MEMBER.allows("admin") and not Access.MEMBER.allows(None)
    assert Access.ADMIN.allows("admin") and not Access.ADMIN.allows("member")
    assert Access.MEMBER_OR_ADMIN.allows("member") and Access.MEMBER_OR_ADMIN.allows("admin")
    assert not Access.MEMBER_OR_ADMIN.allows(None)


def test_a_duplicate_route_is_refused_when_the_table_is_built() -> None:
    with pytest.raises(ValueError):
        Policy([("user", "GET", "/x", Access.GUEST), ("user", "GET", "/x", Access.MEMBER)])
