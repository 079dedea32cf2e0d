"""Domain errors and the one place that turns them into problem+json answers."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import orjson
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from gluta_kit.logging import get_logger

if TYPE_CHECKING:  # FastAPI only where an app is built with it (discovery and config use Starlette: memory)
    from starlette.applications import Starlette
    from starlette.requests import Request

log = get_logger("gluta.errors")

PROBLEM = "application/problem+json"


class ProblemResponse(Response):
    """A problem+json body serialised with orjson."""

    media_type = PROBLEM

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class AppError(Exception):
    """A failure the caller can act on; subclasses set `status`, `code` and `title`."""

    status: int = 400
    code: str = "BAD_REQUEST"
    title: str = "Bad request"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class NotFound(AppError):
    status, code, title = 404, "NOT_FOUND", "Not found"


class Conflict(AppError):
    status, code, title = 409, "CONFLICT", "Conflict"


class Unauthorized(AppError):
    status, code, title = 401, "UNAUTHORIZED", "Authentication required"


class Forbidden(AppError):
    status, code, title = 403, "FORBIDDEN", "Not allowed"


class InvalidToken(AppError):
    status, code, title = 401, "INVALID_TOKEN", "Invalid or expired token"


class TooManyRequests(AppError):
    status, code, title = 429, "TOO_MANY_REQUESTS", "Too many requests"

    def __init__(self, detail: str | None = None, retry_after: int = 1, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = max(1, int(retry_after))


class PayloadTooLarge(AppError):
    status, code, title = 413, "PAYLOAD_TOO_LARGE", "Payload too large"


class ServiceUnavailable(AppError):
    status, code, title = 503, "SERVICE_UNAVAILABLE", "A service this request needs is unavailable"


def problem(status: int, code: str, title: str, detail: str | None = None, **extra: Any) -> ProblemResponse:
    """Build a problem+json response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail or title, "code": code}
    body.update(extra)
    return ProblemResponse(body, status_code=status)


_STATUS_CODES = {
    400: ("BAD_REQUEST", "Bad request"),
    401: ("UNAUTHORIZED", "Authentication required"),
    403: ("FORBIDDEN", "Not allowed"),
    404: ("NOT_FOUND", "Not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    406: ("NOT_ACCEPTABLE", "Not acceptable"),
    409: ("CONFLICT", "Conflict"),
    413: ("PAYLOAD_TOO_LARGE", "Payload too large"),
    415: ("UNSUPPORTED_MEDIA", "Unsupported media type"),
    422: ("VALIDATION_ERROR", "Validation failed"),
    429: ("TOO_MANY_REQUESTS", "Too many requests"),
}


def _clean_errors(errors: Any) -> list[dict[str, Any]]:
    cleaned = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        cleaned.append({"loc": loc, "field": ".".join(loc[1:]) or None, "msg": err.get("msg"), "type": err.get("type")})
    return cleaned


def _listed_errors(errors: Any, detail: str) -> list[dict[str, Any]]:
    """The `errors` of a 422 a service raised itself, each with `loc`, `field`, `msg` and `type` as in pydantic's."""
    listed = []
    for err in errors if isinstance(errors, list) and errors else [{}]:
        err = err if isinstance(err, dict) else {}
        field = err.get("field")
        loc = err.get("loc") or (["body", *str(field).split(".")] if field else [])
        listed.append({"loc": [str(part) for part in loc], "field": field, "msg": err.get("msg") or detail,
                       "type": err.get("type") or "value_error"})
    return listed


def invalid_request(errors: Any) -> ProblemResponse:
    """The 422 answer for a request that failed validation (`errors`: pydantic's error list)."""
    return problem(422, "VALIDATION_ERROR", "Validation failed", "The request is not valid.",
                   errors=_clean_errors(errors))


def database_unavailable(exc: BaseException) -> bool:
    """Whether a failure is the database refusing or dropping connections (too many connections, server gone,
    pool exhausted): the request may succeed in a moment, so it is a 503, not a 500."""
    sa_exc = sys.modules.get("sqlalchemy.exc")  # never imported here: the gateway has no database
    if sa_exc is not None and isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
        return True
    frame = exc.__traceback__
    while frame is not None:  # e.g. a driver's RuntimeError while the pool opened a connection
        if "/sqlalchemy/pool/" in frame.tb_frame.f_code.co_filename.replace("\\", "/"):
            return True
        frame = frame.tb_next
    return False


def text_refused_by_database(exc: BaseException) -> bool:
    """Whether the database refused a request's text: PostgreSQL takes no NUL character in text (SQLSTATE 22021,
    "invalid byte sequence for encoding UTF8: 0x00") nor one its encoding lacks (22P05). The client's input is
    at fault, so it is a 422, not a 500 (SQLite and MariaDB store such text)."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in ("22021", "22P05")


def _text_refused_problem(exc: BaseException) -> ProblemResponse:
    log.info("request.text_refused_by_database", error=repr(exc)[:200])
    message = "the text contains a character the database cannot store (a NUL character)"
    return problem(422, "VALIDATION_ERROR", "Validation failed", "The request is not valid.",
                   errors=[{"loc": [], "field": None, "msg": message, "type": "value_error"}])


def _database_problem(exc: BaseException) -> ProblemResponse:
    log.warning("request.database_unavailable", error=repr(exc)[:300])
    response = problem(503, "SERVICE_UNAVAILABLE", "The service's database is unavailable", "Try again in a moment.")
    response.headers["Retry-After"] = "1"
    return response


def install_error_handlers(app: Starlette) -> None:
    """Register the handlers that turn every failure into problem+json (on a FastAPI or a Starlette app)."""

    async def _app_error(_: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, AppError)
        extra = exc.extra
        if exc.status == 422:  # a service's own validation error has the `errors` list a 422 promises
            extra = {**extra, "errors": _listed_errors(extra.get("errors"), exc.detail)}
        response = problem(exc.status, exc.code, exc.title, exc.detail, **extra)
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    async def _http(_: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, StarletteHTTPException)
        code, title = _STATUS_CODES.get(exc.status_code, ("ERROR", "Error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        response = problem(exc.status_code, code, title, detail)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    async def _unexpected(_: Request, exc: Exception) -> ProblemResponse:
        if database_unavailable(exc):
            return _database_problem(exc)
        log.exception("request.failed", error=repr(exc))
        return problem(500, "INTERNAL_ERROR", "Internal error", "Something went wrong on our side.")

    async def _database(_: Request, exc: Exception) -> ProblemResponse:
        return _database_problem(exc)

    async def _text_refused(request: Request, exc: Exception) -> ProblemResponse:
        if text_refused_by_database(exc):
            return _text_refused_problem(exc)
        raise exc  # any other driver error: the 500 of `_unexpected`

    app.add_exception_handler(AppError, _app_error)
    sa_exc = sys.modules.get("sqlalchemy.exc")  # loaded by then in a service with a database
    if sa_exc is not None:
        for error in (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError):
            app.add_exception_handler(error, _database)
        app.add_exception_handler(sa_exc.DBAPIError, _text_refused)  # its subclasses above keep their own
    fastapi = sys.modules.get("fastapi")
    if fastapi is not None and isinstance(app, fastapi.FastAPI):
        from fastapi.exceptions import RequestValidationError

        async def _validation(_: Request, exc: Exception) -> ProblemResponse:
            assert isinstance(exc, RequestValidationError)
            return invalid_request(exc.errors())

        app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "An error (RFC 9457 problem details); `code` is stable, upper snake case.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
    },
}
VALIDATION_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "ValidationProblem",
    "description": "A request that failed validation: a Problem with the list of what was wrong.",
    "allOf": [{"$ref": "#/components/schemas/Problem"}],
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {"type": "array", "items": {
            "type": "object",
            "required": ["msg"],
            "properties": {"loc": {"type": "array", "items": {"type": "string"}},
                           "field": {"type": ["string", "null"]},
                           "msg": {"type": "string"}, "type": {"type": ["string", "null"]}},
        }},
    },
}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _problem_response(description: str, schema: str) -> dict[str, Any]:
    return {"description": description,
            "content": {PROBLEM: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Describe the errors every operation can answer as they are sent: problem+json (in place; returned)."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ValidationProblem"] = VALIDATION_PROBLEM_SCHEMA
    for item in (document.get("paths") or {}).values():
        for method in _METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            # FastAPI documents its own validation error shape, which the kit's handler never sends
            responses["422"] = _problem_response("Validation failed", "ValidationProblem")
            responses.setdefault("4XX", _problem_response("The request was refused (see `code`)", "Problem"))
    if "#/components/schemas/HTTPValidationError" not in str(document.get("paths")):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    return document


def install_problem_docs(app: Any) -> None:
    """Make a FastAPI app's OpenAPI document describe its errors as the kit answers them (problem+json)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi
