"""Shared toolkit of the server-rendered web front-ends (storefront, admin): backends-for-frontends.

The browser only ever holds an opaque session id (HttpOnly, SameSite=Lax cookie); the user's tokens
live server-side in the session. Pieces, each usable alone:

- `session`: `SessionMiddleware` (puts a dict-like `Session` at `request.session`), stores in the
  service's SQL database (`SqlSessionStore`, table created by `create_session_table(op)` in a migration;
  `SqliteSessionStore` on a `Service(..., plain_sqlite=True)`'s local SQLite file, without SQLAlchemy;
  `database_session_store(service.db)` picks the one that fits), in Redis (`RedisSessionStore`)
  or in memory (`MemorySessionStore`, tests); `flash`/`pop_flashes`.
- `csrf`: `csrf_token(request)` for forms (field `csrf_token`) and `verify_csrf` as a router dependency
  that refuses a POST/PUT/PATCH/DELETE without the session's token (form field or `X-CSRF-Token` header).
- `gateway`: `GatewayClient` calls the gateway with the session's access token, refreshes it
  transparently (POST /api/user-service/token/refresh), forwards `traceparent` and the client address,
  and turns problem+json into `ApiError(status, code, detail, fields)`; `LoginRequired` when the user
  must log in (again).
- `i18n`: gettext catalogs compiled from `.po` at start with Babel, the request's locale in a
  context variable (`LocaleMiddleware`, cookie `gluta_lang`), `make_environment` for Jinja2 with
  autoescape, `{% trans %}`/`_()` and the filters `won` (`12,900원`), `number`, `datetime`, `date`.

Minimal use (see services/storefront for a full one):

```python
catalogs = Catalogs.load(Path(__file__).parent / "locales")
env = make_environment([Path(__file__).parent / "templates"], catalogs)
gateway = GatewayClient(settings.gateway_url)
app.add_middleware(SessionMiddleware, store=database_session_store(service.db))
app.add_middleware(LocaleMiddleware, catalogs=catalogs)
router = APIRouter(dependencies=[Depends(verify_csrf)])
```
Jinja2 and Babel are dependencies of the web services, not of every service: import this package only there.
"""

from gluta_kit.web.csrf import CSRF_FIELD, CSRF_HEADER, CsrfFailed, csrf_token, verify_csrf
from gluta_kit.web.gateway import ApiError, GatewayClient, GatewayUnavailable, LoginRequired
from gluta_kit.web.i18n import Catalogs, LocaleMiddleware, current_locale, gettext, make_environment, won
from gluta_kit.web.session import (
    MemorySessionStore,
    RedisSessionStore,
    Session,
    SessionMiddleware,
    SessionStore,
    SqliteSessionStore,
    SqlSessionStore,
    create_session_table,
    database_session_store,
    flash,
    pop_flashes,
)

__all__ = [
    "CSRF_FIELD", "CSRF_HEADER", "ApiError", "Catalogs", "CsrfFailed", "GatewayClient", "GatewayUnavailable",
    "LocaleMiddleware", "LoginRequired", "MemorySessionStore", "RedisSessionStore", "Session", "SessionMiddleware",
    "SessionStore", "SqlSessionStore", "SqliteSessionStore", "create_session_table", "csrf_token", "current_locale",
    "database_session_store", "flash", "gettext", "make_environment", "pop_flashes", "verify_csrf", "won",
]
