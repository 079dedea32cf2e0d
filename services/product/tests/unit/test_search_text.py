"""How product text is folded for search, and the gram words the word indexes keep."""

from gluta_product.catalog.search import (
    build_search_grams,
    build_search_text,
    grams_of,
    html_text,
    normalize,
    normalize_keyword,
    token,
)
from gluta_product.catalog.service import sanitize_html


def test_normalize_folds_case_width_and_spaces() -> None:
    assert normalize("  Wool   KNIT\tＣａｒｄｉｇａｎ ") == "wool knit cardigan"


def test_html_text_keeps_words_apart_and_unescapes() -> None:
    assert html_text("<p>울</p><p>니트&amp;코튼</p>").split() == ["울", "니트&코튼"]


def test_fields_are_separated_so_no_match_spans_two() -> None:
    text = build_search_text("울 니트", "가디건", "<b>Soft</b>")
    assert text.split("\n") == ["울 니트", "가디건", "soft"]
    assert "니트 가디건" not in text
    assert "soft" in text


def test_grams_cover_every_one_and_two_character_substring_on_sqlite() -> None:
    grams = set(build_search_grams(build_search_text("울 니트 가디건", "", ""), "sqlite").split())
    assert token("니트") in grams and token("니") in grams and token("건") in grams
    assert token("트 ") not in grams  # a keyword is stripped, so grams with spaces are never asked for
    assert not any(len(bytes.fromhex(g[1:]).decode()) == 3 for g in grams)


def test_mariadb_keeps_its_grams_in_a_table() -> None:
    assert build_search_grams("울 니트 가디건", "mysql") == ""
    grams = grams_of("울 니트 가디건\nab")
    assert {"울", "니트", "트", "가디", "디건", "ab"} <= grams
    assert not any(" " in g or "\n" in g for g in grams)
    assert "건a" not in grams  # no gram spans two fields


def test_tokens_are_plain_words_long_enough_for_innodb() -> None:
    for gram in ("a", "니", "😀", "a%"):
        word = token(gram)
        assert word.isalnum() and word.isascii() and len(word) >= 3


def test_keyword_is_normalised_like_the_text() -> None:
    assert normalize_keyword("  Ｎｉｔ\nT  ") == "nit t"
    assert normalize_keyword(None) == ""
    assert len(normalize_keyword("가" * 500)) == 100


def test_sanitizer_removes_script_and_handlers() -> None:
    cleaned = sanitize_html('<p onclick="x()">hi</p><script>alert(1)</script><a href="javascript:alert(1)">a</a>')
    assert "script" not in cleaned and "onclick" not in cleaned and "javascript" not in cleaned
    assert "<p>hi</p>" in cleaned
