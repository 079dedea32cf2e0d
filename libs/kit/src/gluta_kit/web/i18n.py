"""Translations and the Jinja2 environment of the web front-ends.

Catalogs are the `.po` files under `<locales>/<lang>/LC_MESSAGES/messages.po`, compiled in memory with
Babel when the app starts (no `.mo` files to build or commit). The request's language is a context
variable set by `LocaleMiddleware` from the `gluta_lang` cookie (default: the first of `Catalogs.locales`);
`gettext` and the templates' `_()`/`{% trans %}` read it. Message ids are English; the catalog of a
language translates them (a missing translation shows the English text, never an error).
"""

from __future__ import annotations

import gettext as _gettext
import io
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

LOCALE_COOKIE = "gluta_lang"
DISPLAY_ZONE = ZoneInfo("Asia/Seoul")

_locale: ContextVar[str] = ContextVar("gluta_locale", default="ko")
_active: ContextVar[Catalogs | None] = ContextVar("gluta_catalogs", default=None)
_catalogs: Catalogs | None = None  # the last loaded: used outside requests


class Catalogs:
    """The compiled translations of every supported language."""

    def __init__(self, translations: dict[str, _gettext.NullTranslations], locales: Sequence[str]) -> None:
        self.translations = translations
        self.locales = list(locales)
        self.default = self.locales[0]

    @classmethod
    def load(cls, folder: Path | str, locales: Sequence[str] = ("ko", "en"), domain: str = "messages") -> Catalogs:
        """Compile `<folder>/<lang>/LC_MESSAGES/<domain>.po` for each language (first = default)."""
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        translations: dict[str, _gettext.NullTranslations] = {}
        for lang in locales:
            path = Path(folder) / lang / "LC_MESSAGES" / f"{domain}.po"
            if not path.exists():
                translations[lang] = _gettext.NullTranslations()
                continue
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=lang)
            buffer = io.BytesIO()
            write_mo(buffer, catalog, use_fuzzy=False)
            buffer.seek(0)
            translations[lang] = _gettext.GNUTranslations(buffer)
        catalogs = cls(translations, locales)
        global _catalogs
        _catalogs = catalogs
        return catalogs

    def get(self, lang: str) -> _gettext.NullTranslations:
        """Return the translations of `lang` (the default language's when unknown)."""
        return self.translations.get(lang) or self.translations[self.default]

    def pick(self, wanted: str | None) -> str:
        """Return `wanted` when supported, else the default language."""
        return wanted if wanted in self.translations else self.default


def current_locale() -> str:
    """Return the language of the request being served."""
    return _locale.get()


def set_locale(lang: str) -> Any:
    """Set the current language (returns a token for `reset_locale`)."""
    return _locale.set(lang)


def reset_locale(token: Any) -> None:
    """Undo `set_locale`."""
    _locale.reset(token)


def gettext(message: str) -> str:
    """Translate `message` into the current language."""
    catalogs = _active.get() or _catalogs
    if catalogs is None:
        return message
    return catalogs.get(_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate a message with a plural form into the current language."""
    catalogs = _active.get() or _catalogs
    if catalogs is None:
        return singular if n == 1 else plural
    return catalogs.get(_locale.get()).ngettext(singular, plural, n)


class LocaleMiddleware:
    """Set the request's language from the `gluta_lang` cookie (the default language otherwise)."""

    def __init__(self, app: ASGIApp, catalogs: Catalogs, cookie_name: str = LOCALE_COOKIE) -> None:
        self.app = app
        self.catalogs = catalogs
        self.cookie_name = cookie_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lang = self.catalogs.pick(Request(scope).cookies.get(self.cookie_name))
        scope.setdefault("state", {})["locale"] = lang
        token = _locale.set(lang)
        active = _active.set(self.catalogs)
        try:
            await self.app(scope, receive, send)
        finally:
            _active.reset(active)
            _locale.reset(token)


# --- filters ---------------------------------------------------------------------------------------------
def won(value: Any) -> str:
    """Format an amount of won: 12900 → `12,900원`."""
    try:
        amount = int(value)
    except (TypeError, ValueError):
        return ""
    return f"{amount:,}원"


def number(value: Any) -> str:
    """Format an integer with thousands separators."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return ""


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(DISPLAY_ZONE)


def format_datetime(value: Any) -> str:
    """Format an ISO time as `2026-11-24 13:05` in Korean time."""
    moment = _parse_time(value)
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def format_date(value: Any) -> str:
    """Format an ISO time as `2026-11-24` in Korean time."""
    moment = _parse_time(value)
    return moment.strftime("%Y-%m-%d") if moment else ""


def make_environment(template_dirs: Iterable[Path | str], catalogs: Catalogs | None = None,
                     globals: dict[str, Any] | None = None,
                     filters: dict[str, Callable[..., Any]] | None = None) -> Any:
    """Return a Jinja2 environment: autoescape on, i18n (`_`, `{% trans %}`), the kit's filters."""
    from jinja2 import Environment, FileSystemLoader

    env = Environment(
        loader=FileSystemLoader([str(d) for d in template_dirs]),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        enable_async=False,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update({"won": won, "number": number, "datetime": format_datetime, "date": format_date})
    env.filters.update(filters or {})
    env.globals.update({"current_locale": current_locale, "locales": catalogs.locales if catalogs else ["ko"]})
    env.globals.update(globals or {})
    return env
