"""The proxy's pure parts: path splitting, upstream targets, client addresses, the public documents."""

from __future__ import annotations

import pytest

from gluta_gateway.docs import public_document
from gluta_gateway.policy import Policy
from gluta_gateway.proxy import _split, _target


@pytest.mark.parametrize(("path", "expected"), [
    ("/api/product-service/types", ("product", "/types")),
    ("/api/user-service/.well-known/jwks.json", ("user", "/.well-known/jwks.json")),
    ("/api/product-service/products/../internal/x", ("", "")),
    ("/api/product-service/products/./1", ("", "")),
    ("/api/product-service/products/..", ("", "")),
    ("/api/product-service//types", ("", "")),
    ("/api/product-service", ("", "")),
    ("/api/product/types", ("", "")),
    ("/api//types", ("", "")),
])
def test_split(path: str, expected: tuple[str, str]) -> None:
    assert _split(path) == expected


def test_the_target_keeps_the_raw_path_and_query() -> None:
    scope = {"path": "/api/product-service/products/1/styles/보습",
             "raw_path": b"/api/product-service/products/1/styles/%EB%B3%B4%EC%8A%B5",
             "query_string": b"a=1&b=%20"}
    assert _target(scope, len("/api/product-service")) == b"/products/1/styles/%EB%B3%B4%EC%8A%B5?a=1&b=%20"


def test_a_percent_encoded_prefix_is_refused() -> None:
    scope = {"path": "/api/product-service/types", "raw_path": b"/api/product%2Dservice/types", "query_string": b""}
    assert _target(scope, len("/api/product-service")) is None


def test_raw_bytes_that_are_not_ascii_are_percent_encoded() -> None:
    scope = {"path": "/api/product-service/x", "raw_path": "/api/product-service/é".encode(), "query_string": b""}
    assert _target(scope, len("/api/product-service")) == b"/%C3%A9"


def test_the_public_document_keeps_only_public_operations_with_their_role() -> None:
    raw = {
        "openapi": "3.1.0", "info": {"title": "gluta product", "version": "1"},
        "paths": {
            "/types": {"get": {"summary": "List types"}, "post": {"summary": "Add a type"}},
            "/products/{product_id}": {"get": {"summary": "Detail"}, "parameters": []},
            "/internal/stock/{product_id}": {"get": {"summary": "internal"}},
            "/health": {"get": {}},
        },
    }
    doc = public_document("product", raw, Policy())
    assert set(doc["paths"]) == {"/types", "/products/{product_id}"}
    assert doc["paths"]["/types"]["get"]["x-access"] == "guest"
    assert "security" not in doc["paths"]["/types"]["get"]
    assert doc["paths"]["/types"]["post"]["x-access"] == "admin"
    assert doc["paths"]["/types"]["post"]["security"] == [{"bearer": []}]
    assert doc["paths"]["/products/{product_id}"]["parameters"] == []
    assert doc["servers"] == [{"url": "/api/product-service"}]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_the_docs_page_lists_fields_with_their_types() -> None:
    from gluta_gateway.docs import _fields, _resolve

    components = {"Member": {"title": "Member", "type": "object", "required": ["memberId"], "properties": {
        "memberId": {"type": "integer"},
        "email": {"anyOf": [{"type": "string", "format": "email"}, {"type": "null"}]},
        "roles": {"type": "array", "items": {"type": "string", "enum": ["member", "admin"]}},
    }}}
    member_list = {"type": "array", "items": {"$ref": "#/components/schemas/Member"}}
    page = {"type": "object", "properties": {"items": member_list}}
    text = _fields(_resolve(page, components))
    assert "<code>items?</code>: [Member]" in text
    assert "<code>memberId</code>: integer" in text
    assert "<code>email?</code>: string (format email) | null" in text
    assert '<code>roles?</code>: [&quot;member&quot; | &quot;admin&quot;]' in text  # escaped
