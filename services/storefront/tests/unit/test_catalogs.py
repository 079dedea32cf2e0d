"""Every message the pages show has a Korean translation; English is the message id itself."""

from pathlib import Path

from babel.messages.extract import extract_from_dir

from gluta_kit.web.i18n import Catalogs, reset_locale, set_locale
from gluta_kit.web.i18n import gettext as translate

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "src" / "gluta_storefront" / "locales"


def extracted() -> set[str]:
    method_map = [("src/**.py", "python"), ("src/**/templates/**.html", "jinja2")]
    options = {"src/**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options, keywords=keywords):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_has_a_korean_translation() -> None:
    catalogs = Catalogs.load(LOCALES, ("ko", "en"))
    messages = extracted()
    assert len(messages) > 150
    korean = catalogs.get("ko")
    missing = sorted(m for m in messages if korean.gettext(m) == m)
    assert not missing, f"add these to locales/ko/LC_MESSAGES/messages.po: {missing}"


def test_the_language_switch_changes_translations() -> None:
    Catalogs.load(LOCALES, ("ko", "en"))
    token = set_locale("ko")
    try:
        assert translate("Add to cart") == "장바구니 담기"
    finally:
        reset_locale(token)
    token = set_locale("en")
    try:
        assert translate("Add to cart") == "Add to cart"
    finally:
        reset_locale(token)
