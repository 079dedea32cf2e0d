"""Every failure becomes problem+json; bad input never becomes a 500."""

import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from gluta_kit.errors import AppError, TooManyRequests, install_error_handlers, install_problem_docs


class CouponSoldOut(AppError):
    status, code, title = 410, "SOLD_OUT", "Sold out"


class RangeInvalid(AppError):
    status, code, title = 422, "VALIDATION_ERROR", "The date range is not valid"


class Body(BaseModel):
    quantity: int


def build() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    install_problem_docs(app)

    @app.post("/claim")
    async def claim(body: Body) -> dict[str, int]:
        if body.quantity > 5:
            raise CouponSoldOut("no places left")
        if body.quantity == 5:
            raise TooManyRequests("slow down", retry_after=7)
        return {"quantity": body.quantity}

    @app.get("/range")
    async def date_range(field: str | None = None) -> None:
        raise RangeInvalid("`from` must not be after `to`", **({"errors": [{"field": field}]} if field else {}))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("bug")

    return app


async def call(method: str, path: str, **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=build(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, path, **kwargs)


async def test_domain_error_becomes_problem_json() -> None:
    response = await call("POST", "/claim", json={"quantity": 9})
    assert response.status_code == 410
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {"type": "about:blank", "title": "Sold out", "status": 410,
                               "detail": "no places left", "code": "SOLD_OUT"}


async def test_validation_error_is_422_with_errors() -> None:
    response = await call("POST", "/claim", json={"quantity": "many"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["errors"][0]["field"] == "quantity"


async def test_malformed_json_is_422_not_500() -> None:
    response = await call("POST", "/claim", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422


async def test_unknown_route_and_method_are_problems() -> None:
    assert (await call("GET", "/nowhere")).json()["code"] == "NOT_FOUND"
    response = await call("DELETE", "/claim")
    assert response.status_code == 405
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"


async def test_rate_limit_carries_retry_after() -> None:
    response = await call("POST", "/claim", json={"quantity": 5})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"


async def test_a_bug_is_a_500_problem_without_a_trace() -> None:
    response = await call("GET", "/boom")
    assert response.status_code == 500
    assert response.json()["code"] == "INTERNAL_ERROR"
    assert "RuntimeError" not in response.text


async def test_a_422_a_service_raises_itself_lists_its_errors_like_a_validation_failure() -> None:
    bare = await call("GET", "/range")
    assert bare.status_code == 422
    assert bare.json()["errors"] == [{"loc": [], "field": None, "msg": "`from` must not be after `to`",
                                      "type": "value_error"}]
    named = await call("GET", "/range", params={"field": "from"})
    assert named.json()["errors"] == [{"loc": ["body", "from"], "field": "from",
                                       "msg": "`from` must not be after `to`", "type": "value_error"}]


async def test_the_openapi_document_describes_errors_as_they_are_sent() -> None:
    document = (await call("GET", "/openapi.json")).json()
    claim = document["paths"]["/claim"]["post"]["responses"]
    assert claim["422"]["content"] == {"application/problem+json": {
        "schema": {"$ref": "#/components/schemas/ValidationProblem"}}}
    assert claim["4XX"]["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "422" in document["paths"]["/range"]["get"]["responses"]
    schemas = document["components"]["schemas"]
    assert schemas["Problem"]["required"] == ["type", "title", "status", "detail", "code"]
    assert "HTTPValidationError" not in schemas  # FastAPI's own shape, which is never sent, is gone
    # what the app really answers matches what it documents
    problem = (await call("POST", "/claim", json={"quantity": "x"})).json()
    assert set(schemas["Problem"]["required"]) <= set(problem) and problem["errors"][0]["msg"]
