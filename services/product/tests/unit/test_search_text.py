"""How product text is folded for search, and the gram words the word indexes keep."""

from gluta_product.catalog.search import (
    build_search_fields,
    glob_of,
    html_text,
    initials,
    normalize,
    normalize_keyword,
    parse_words,
    term_keys,
    tolerates_typo,
    vocabulary,
    whole_words,
    word_of,
)
from gluta_product.catalog.service import sanitize_html


def test_normalize_folds_case_width_and_spaces() -> None:
    assert normalize("  Wool   KNIT\tＣａｒｄｉｇａｎ ") == "wool knit cardigan"


def test_html_text_keeps_words_apart_and_unescapes() -> None:
    assert html_text("<p>울</p><p>니트&amp;코튼</p>").split() == ["울", "니트&코튼"]


def test_fields_are_spacing_free_and_separated_so_no_match_spans_two() -> None:
    fields = build_search_fields("울 니트", "가디건", "<b>Soft</b> wool")
    assert fields.search_text.split("\n") == ["울니트", "가디건", "softwool"]
    assert fields.search_name == "울니트" and fields.search_initials == "\u110b\u1102\u1110"
    assert "니트가디건" not in fields.search_text


def test_initials_are_what_a_typed_choseong_becomes() -> None:
    assert initials("울니트가디건") == normalize("ㅇㄴㅌㄱㄷㄱ")  # NFKC turns typed ㄱ (U+3131) into U+1100
    assert initials("wool니트") == "wool" + normalize("ㄴㅌ")


def test_tokens_cover_grams_of_text_name_and_initials_and_whole_words() -> None:
    tokens = build_search_fields("울 니트 가디건", "겨울 아우터", "").tokens()
    assert {"a니트", "a트가", "a울", "n니트", "n트가", "w니트", "w가디건", "w니트가디건", "x울니트가디건"} <= tokens
    assert "a트겨" not in tokens  # no gram spans two fields
    assert "n아우" not in tokens and "a아우" in tokens
    assert not any(len(t) > 3 for t in tokens if t[0] in "anc")
    assert {"t니트가", "t겨울아", "m울니트", "i\u110b\u1102\u1110"} <= tokens  # MariaDB's trigrams
    assert "t트겨" not in tokens and not any(len(t) != 4 for t in tokens if t[0] in "tmi")
    assert word_of("a니트").isalnum() and word_of("a니트").isascii()


def test_whole_words_and_vocabulary() -> None:
    assert whole_words("T-Shirt 울 니트") >= {"t-shirt", "t", "shirt", "울", "니트", "울니트", "t-shirt울"}
    assert vocabulary("오버핏 울 가디건 12345") == {"오버핏", "가디건", "오버핏울", "울가디건"}


def test_words_synonyms_and_choseong() -> None:
    words = parse_words(normalize_keyword("t shirt 니ㅌ ㄴㅌ"), {"tshirt": ["티셔츠"]})
    assert [w.text for w in words] == ["tshirt", "니ᄐ", "ᄂᄐ"]
    assert words[0].exact == ("tshirt", "티셔츠")
    assert words[1].initials == "ᄂᄐ" and words[1].pattern == "니ᄐ" and not words[1].exact
    assert words[2].initials == "ᄂᄐ" and words[2].pattern == ""
    assert glob_of("니ᄐ") == "*니[타-팋]*"


def test_typos_are_tolerated_for_long_words_only() -> None:
    assert tolerates_typo("가디건") and not tolerates_typo("니트")
    assert tolerates_typo("cardigan") and not tolerates_typo("shirt")
    assert term_keys("가디건") & term_keys("가디견")  # one jamo apart: they share a key
    assert not term_keys("가디건") & term_keys("고데기")


def test_keyword_is_normalised_like_the_text() -> None:
    assert normalize_keyword("  Ｎｉｔ\nT  ") == "nit t"
    assert normalize_keyword(None) == ""
    assert len(normalize_keyword("가" * 500)) == 100


def test_sanitizer_removes_script_and_handlers() -> None:
    cleaned = sanitize_html('<p onclick="x()">hi</p><script>alert(1)</script><a href="javascript:alert(1)">a</a>')
    assert "script" not in cleaned and "onclick" not in cleaned and "javascript" not in cleaned
    assert "<p>hi</p>" in cleaned


def test_the_idle_service_loads_neither_hangul_nor_fuzzy_matching(tmp_path) -> None:
    """hgtk and rapidfuzz (~8 MB resident) load on the first product write or searched word, not at start."""
    import subprocess
    import sys

    program = ("import sys; from pathlib import Path; from gluta_kit.testing import make_settings; "
               "from gluta_product.app import create_app; from gluta_product.settings import ProductSettings; "
               "create_app(make_settings(ProductSettings, Path(sys.argv[1]))); "
               "print(sorted(m for m in ('hgtk', 'rapidfuzz') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", program, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_mariadb_pieces_of_words() -> None:
    from gluta_product.catalog.search import MAX_BRANCHES, And, Contains, Or, Token, pieces, token_groups

    assert pieces(Contains("text", "니트")).tokens == ("a니트",)
    assert pieces(Contains("text", "가디건")).tokens == ("t가디건",)
    assert pieces(Contains("name", "wool")).tokens == ("mwoo", "mool")
    assert pieces(Contains("text", "cardigan")).tokens == ("tcar", "tdig", "tgan")
    assert not pieces(Contains("text", "a" * 18 + "b")).recheck  # one trigram, repeated
    long = pieces(Contains("text", "abcdefghijklmnopqrs"))  # 19 characters: 7 pieces, 6 kept and the row rechecked
    assert long.recheck and len(long.tokens) == 6
    synonyms = Or((Token("w", "울"), Token("w", "wool")))
    assert token_groups(And((Contains("text", "니트"), synonyms))) == (("a니트",), ("w울", "wwool"))
    many = And(tuple(Or((Token("w", f"{i}a"), Token("w", f"{i}b"))) for i in range(4)))  # 2**4 joins
    assert 2 ** 4 > MAX_BRANCHES and token_groups(many) is None

