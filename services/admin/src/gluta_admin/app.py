"""The admin web front-end: operator pages rendered on the server, a backend-for-frontend of the gateway."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from gluta_admin.auth.router import router as auth_router
from gluta_admin.banner.router import router as banner_router
from gluta_admin.coupon.router import router as coupon_router
from gluta_admin.dashboard.router import router as dashboard_router
from gluta_admin.inquiry.router import router as inquiry_router
from gluta_admin.media.router import router as media_router
from gluta_admin.member.router import router as member_router
from gluta_admin.operations.router import router as operations_router
from gluta_admin.operations.service import Operations
from gluta_admin.order.router import router as order_router
from gluta_admin.product.router import router as product_router
from gluta_admin.product_type.router import router as type_router
from gluta_admin.settings import AdminSettings
from gluta_admin.synonym.router import router as synonym_router
from gluta_admin.web import HERE, LOCALES, STATIC, _, build_templates, render
from gluta_kit.http import tls_context
from gluta_kit.service import Service
from gluta_kit.web import (
    ApiError,
    Catalogs,
    CsrfFailed,
    GatewayClient,
    GatewayUnavailable,
    LocaleMiddleware,
    LoginRequired,
    MemorySessionStore,
    RedisSessionStore,
    SessionMiddleware,
    database_session_store,
)
from gluta_kit.web.security import SecurityHeaders

CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def create_app(settings: AdminSettings, *, session_store: Any = None,
               gateway_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """Build the admin app (tests may pass a session store and a transport standing in for the gateway)."""
    service = Service(settings, migrations=HERE / "migrations", uses_bus=False, plain_sqlite=True)  # sessions only
    catalogs = Catalogs.load(LOCALES, ("ko", "en"))
    gateway = GatewayClient(settings.gateway_url, timeout=settings.gateway_timeout_seconds,
                            transport=gateway_transport,
                            expired_message="Your session has expired. Log in again.")
    probe_client = httpx.AsyncClient(trust_env=False, timeout=settings.operations_timeout_seconds,
                                     verify=tls_context())  # one CA bundle per process (memory)
    operations = Operations(discovery_url=settings.discovery_url, config_url=settings.config_url,
                            internal_token=settings.internal_token, client=probe_client,
                            timeout=settings.operations_timeout_seconds)
    if session_store is None:
        if settings.redis_url:
            session_store = RedisSessionStore(settings.redis_url, prefix="gluta:admin-session:")
        elif service.db is not None:
            session_store = database_session_store(service.db)
        else:  # pragma: no cover - the admin always has its database
            session_store = MemorySessionStore()

    async def close_clients() -> None:
        await gateway.aclose()
        await probe_client.aclose()
        if hasattr(session_store, "aclose"):
            await session_store.aclose()

    service.on_stop.append(close_clients)
    app = service.create_app(
        [auth_router, dashboard_router, product_router, type_router, banner_router, inquiry_router, coupon_router,
         order_router, member_router, operations_router, media_router, synonym_router],
        title="gluta admin", docs_url=None, redoc_url=None, openapi_url=None,
    )
    app.state.settings = settings
    app.state.catalogs = catalogs
    app.state.templates = build_templates(catalogs)
    app.state.gateway = gateway
    app.state.operations = operations
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(LocaleMiddleware, catalogs=catalogs)
    app.add_middleware(SessionMiddleware, store=session_store, cookie_name=settings.session_cookie_name,
                       max_age=settings.session_max_age_seconds, secure=settings.session_cookie_secure)
    app.add_middleware(SecurityHeaders, csp=CSP, html_no_store=True)
    install_page_handlers(app)
    return app


def install_page_handlers(app: FastAPI) -> None:
    """Turn the web toolkit's exceptions into pages: the login page, or an error page in the console."""

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        target = "/login"
        if request.method == "GET" and request.url.path not in ("/", "/login"):
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            target = f"/login?next={quote(path, safe='')}"
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(CsrfFailed)
    async def _csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return render(request, "error.html", status_code=403, title=_("The form expired"),
                      message=_("This form was opened in an older session. Reload the page and try again."),
                      status=403)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        if isinstance(exc, GatewayUnavailable) or exc.status >= 500:
            return render(request, "error.html", status_code=503, title=_("A service is not answering"),
                          message=_("The page needs a service that is not answering right now. Try again shortly; "
                                    "the Operations page shows which one is down."), status=503)
        if exc.status == 403:
            return render(request, "error.html", status_code=403, title=_("Not allowed"),
                          message=_("This account is not allowed to see this page."), status=403)
        if exc.status == 404:
            return render(request, "error.html", status_code=404, title=_("Not found"),
                          message=_("What you were looking for does not exist (any more)."), status=404)
        return render(request, "error.html", status_code=exc.status if 400 <= exc.status < 500 else 502,
                      title=_("The request was refused"), message=exc.detail or exc.code, status=exc.status)
