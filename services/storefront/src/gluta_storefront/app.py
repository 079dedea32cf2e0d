"""The storefront: the customer's web pages, a backend-for-frontend over the gateway."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from gluta_kit.errors import AppError
from gluta_kit.logging import get_logger
from gluta_kit.service import Service
from gluta_kit.web import (
    ApiError,
    Catalogs,
    GatewayClient,
    LocaleMiddleware,
    LoginRequired,
    RedisSessionStore,
    SessionMiddleware,
    database_session_store,
    gettext,
    make_environment,
)
from gluta_kit.web.security import SecurityHeaders
from gluta_storefront.account.router import router as account_router
from gluta_storefront.cart.router import router as cart_router
from gluta_storefront.catalog.router import router as catalog_router
from gluta_storefront.checkout.router import router as checkout_router
from gluta_storefront.coupon.router import router as coupon_router
from gluta_storefront.messages import CANCEL_REASONS, N_, ORDER_STATUSES, TRANSACTION_TYPES, error_message, localized
from gluta_storefront.mypage.router import router as mypage_router
from gluta_storefront.settings import StorefrontSettings
from gluta_storefront.web import PublicCache, Web, login_url, redirect, render, safe_next

HERE = Path(__file__).parent
MIGRATIONS = HERE / "migrations"
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
LOCALES = HERE / "locales"

log = get_logger("gluta.storefront")

SESSION_EXPIRED = N_("Your session has expired. Please log in again.")


CSP = ("default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")




def _image_src(url: str | None) -> str:
    """Return where the browser loads an image from (the storefront proxies the product service's)."""
    return url or "/static/img/placeholder.svg"


def create_app(settings: StorefrontSettings) -> FastAPI:
    """Build the storefront app."""
    service = Service(settings, migrations=MIGRATIONS, uses_bus=False, plain_sqlite=True)  # sessions only
    catalogs = Catalogs.load(LOCALES, ("ko", "en"))
    env = make_environment([TEMPLATES], catalogs, filters={
        "image_src": _image_src,
        "cancel_reason": lambda code: localized(CANCEL_REASONS, code),
        "order_status": lambda code: localized(ORDER_STATUSES, code),
        "transaction_type": lambda code: localized(TRANSACTION_TYPES, code),
    })
    gateway = GatewayClient(settings.gateway_url, timeout=settings.gateway_timeout_seconds,
                            expired_message=SESSION_EXPIRED)
    if settings.redis_url:
        store = RedisSessionStore(settings.redis_url)
        service.on_stop.append(store.aclose)
    else:
        assert service.db is not None
        store = database_session_store(service.db)
    service.on_stop.append(gateway.aclose)
    web = Web(settings, env, gateway, PublicCache(settings.public_cache_seconds), extra={"catalogs": catalogs})

    async def reload_cache_ttl(changed: dict[str, object]) -> None:
        web.cache.ttl = settings.public_cache_seconds

    service.on_reload.append(reload_cache_ttl)
    app = service.create_app(
        [catalog_router, cart_router, checkout_router, coupon_router, account_router, mypage_router],
        title="gluta storefront", docs_url=None, redoc_url=None, openapi_url=None,
    )
    app.state.web = web
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(LocaleMiddleware, catalogs=catalogs)
    app.add_middleware(SessionMiddleware, store=store, max_age=settings.session_max_age_seconds,
                       secure=settings.cookie_secure, exclude_prefixes=("/static/", "/api/", "/health", "/ready",
                                                                        "/metrics"))
    app.add_middleware(SecurityHeaders, csp=CSP)
    install_page_errors(app)
    return app


def _error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    try:
        return render(request, "error.html", status_code=status, status=status, title=title, message=message)
    except Exception as exc:  # the error page itself failed: still no stack trace for the user
        log.error("storefront.error_page_failed", error=repr(exc))
        return HTMLResponse("<!doctype html><title>Glutathione</title><p>Something went wrong.</p>",
                            status_code=status)


def install_page_errors(app: FastAPI) -> None:
    """Answer failures with pages (never a stack trace): login redirects, 404, API errors, 500."""

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if request.method == "GET":
            target = request.url.path + ("?" + request.url.query if request.url.query else "")
        else:
            referer = request.headers.get("referer", "")
            base = str(request.base_url).rstrip("/")
            target = safe_next(referer[len(base):] if referer.startswith(base) else "/")
        if request.headers.get("accept", "").startswith("application/json"):
            from fastapi.responses import JSONResponse

            return JSONResponse({"login": login_url(target)}, status_code=401)
        return redirect(login_url(target))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # a malformed id in an address: the page does not exist
        return _error_page(request, 404, gettext(N_("Page not found")),
                           gettext(N_("The page you are looking for does not exist or was removed.")))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _error_page(request, 404, gettext(N_("Page not found")),
                               gettext(N_("The page you are looking for does not exist or was removed.")))
        if exc.status_code == 405:
            return _error_page(request, 405, gettext(N_("Not allowed")), gettext(N_("This address cannot do that.")))
        return _error_page(request, exc.status_code, gettext(N_("Something went wrong")),
                           gettext(N_("Please check the address and try again.")))

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> Response:
        status = exc.status if 400 <= exc.status < 600 else 502
        if exc.status == 404:
            return _error_page(request, 404, gettext(N_("Page not found")), error_message("NOT_FOUND"))
        log.warning("storefront.api_error", status=exc.status, code=exc.code, path=request.url.path)
        return _error_page(request, status, gettext(N_("Something went wrong")), error_message(exc.code))

    @app.exception_handler(AppError)
    async def _app(request: Request, exc: AppError) -> Response:
        return _error_page(request, exc.status, gettext(N_("Something went wrong")), error_message(exc.code))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("storefront.failed", error=repr(exc), path=request.url.path)
        return _error_page(request, 500, gettext(N_("Something went wrong")),
                           gettext(N_("An error occurred on our side. Please try again in a moment.")))
