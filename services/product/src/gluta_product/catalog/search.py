"""Search text, the index tokens and the set algebra each database's index serves (see the service README).

A product is searched through three derived columns, all spacing-free (whitespace removed after NFKC and
lower case), so "니트가디건" and "니트 가디건" are the same to the index:

* `search_name`: the name; `search_initials`: its 초성 (each Hangul syllable replaced by its initial
  consonant, as a conjoining jamo — what NFKC makes of a typed "ㄴ"); `search_text`: name, description and
  the visible text of the content, joined by a newline no query word contains (no match spans two fields).
* index tokens (`index_tokens`): every 1- and 2-character substring of the text (`a`), of the name (`n`)
  and of the initials (`c`); the name's whole words and pairs of adjacent words (`w`); the whole name
  (`x`). SQLite and PostgreSQL keep them hex-encoded as words in `product.search_grams` (served by FTS5 /
  a GIN tsvector index); MariaDB as rows of `product_gram(gram, product_id)`, with every 3-character
  substring too (`t` text, `m` name, `i` initials: `trigram_tokens`).
* 3+ character words: SQLite's FTS5 trigram table over the three columns (phrase = substring), PostgreSQL
  `LIKE` served by pg_trgm indexes. MariaDB looks them up by their trigram tokens (`pieces`): a 3-character
  word is one token, exact; a longer word is covered by trigrams that start every third character plus its
  last three ("cardigan": car, dig, gan), and matches a field that has all of them, as an n-gram search
  engine's AND query does (no row is read; it differs from a substring only when the pieces occur apart in
  one field, "woo" and "ool" without "wool"); a word needing more than MAX_PIECES of them (19+ characters)
  is looked up by MAX_PIECES and rechecked by INSTR on the row (exact).

A query is a set expression over those lookups (`Contains`, `Token`, `Pattern` leaves under `And`/`Or`,
and `Minus` between relevance levels); `compile_sqlite` turns it into one compound select of rowids over
the FTS5 tables, `condition` into a WHERE condition on `product` for MariaDB and PostgreSQL.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from html import unescape
from html.parser import HTMLParser
from itertools import product
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Table,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.ext.compiler import compiles

from gluta_product.catalog.models import Product, ProductGram

SEPARATOR = "\n"
NARROW_INDEX = "ix_product_search_cover"  # keyed by id, with the filter and sort columns (migration 0002)
MAX_KEYWORD = 100
MAX_TERM = 20  # vocabulary terms (typo correction, did-you-mean) are name words of at most this many characters
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MYSQL = {"mysql", "mariadb"}
SYLLABLES = ("\uac00", "\ud7a3")  # 가 .. 힣
CHOSEONG = ("\u1100", "\u1112")  # conjoining initial consonants: NFKC turns a typed ㄱ (U+3131) into U+1100


@compiles(Table, "sqlite")
def _sqlite_table(table: Table, compiler: Any, **kw: Any) -> str:
    """Render a statement's SQLite `INDEXED BY` hint (`with_hint(..., "sqlite")`), which SQLAlchemy drops.

    SQLite's planner otherwise decides from ANALYZE statistics a service database may never have.
    """
    rendered = compiler.visit_table(table, **kw)
    hint = (kw.get("fromhints") or {}).get(table) if kw.get("asfrom") else None
    if hint and hint.startswith("INDEXED BY ") and not rendered.endswith(hint):
        rendered += " " + hint
    return str(rendered)


# --- text ------------------------------------------------------------------------------------------
def normalize(value: str) -> str:
    """Fold text the way both the index and the keyword see it (NFKC, lower case, single spaces; control
    characters are spaces: a NUL inside an FTS5 query string never returns)."""
    return _SPACES.sub(" ", _CONTROL.sub(" ", unicodedata.normalize("NFKC", value)).lower()).strip()


def has_control_characters(value: str) -> bool:
    """Whether text holds a control character, which no stored name or style does."""
    return _CONTROL.search(value) is not None


def compact(value: str) -> str:
    """Return normalised text without any whitespace: what spacing-insensitive matching compares."""
    return _SPACES.sub("", normalize(value))


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(html: str) -> str:
    """Return the visible text of (already sanitised) HTML; tags become spaces."""
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    return unescape("".join(parser.parts))


def is_syllable(char: str) -> bool:
    """Return whether a character is a precomposed Hangul syllable."""
    return SYLLABLES[0] <= char <= SYLLABLES[1]


def is_choseong(char: str) -> bool:
    """Return whether a character is an initial consonant (a typed ㄱ..ㅎ after NFKC)."""
    return CHOSEONG[0] <= char <= CHOSEONG[1]


@lru_cache(maxsize=12_000)  # 11,172 syllables
def initial_of(char: str) -> str:
    """Return a syllable's initial consonant as NFKC writes a typed one (other characters unchanged)."""
    if not is_syllable(char):
        return char
    import hgtk  # only once text is indexed or a 초성 query comes (idle memory)

    return unicodedata.normalize("NFKC", hgtk.letter.decompose(char)[0])


def initials(value: str) -> str:
    """Return the 초성 form of a (compact) text: every Hangul syllable replaced by its initial consonant."""
    return "".join(initial_of(char) for char in value)


def jamo(value: str) -> str:
    """Return a word as its Hangul letters (jamo), so one wrong letter is one edit ("가디견" ~ "가디건")."""
    import hgtk

    return str(hgtk.text.decompose(unicodedata.normalize("NFC", value), latin_filter=False, compose_code=""))


def syllable_count(word: str) -> int:
    """Return how many Hangul syllables a word has."""
    return sum(1 for char in word if is_syllable(char))


def tolerates_typo(word: str) -> bool:
    """Return whether one typo is tolerated in a query word: 3+ syllables, or 6+ letters of a non-Korean word."""
    if syllable_count(word) >= 3:
        return True
    return syllable_count(word) == 0 and sum(1 for char in word if char.isalpha()) >= 6


# --- what a product is indexed by ------------------------------------------------------------------
@dataclass(frozen=True)
class SearchFields:
    """The derived columns of one product (see the module docstring)."""

    search_name: str
    search_initials: str
    search_text: str
    words: frozenset[str]

    def tokens(self) -> set[str]:
        """Return every index token: kind letter + gram / word (see the module docstring)."""
        found: set[str] = set()
        for segment in self.search_text.split(SEPARATOR):
            found.update("a" + gram for gram in _grams(segment))
        found.update("n" + gram for gram in _grams(self.search_name))
        found.update("c" + gram for gram in _grams(self.search_initials))
        found.update("w" + word for word in self.words)
        if self.search_name:
            found.add("x" + self.search_name)
        return found | self.trigram_tokens()

    def trigram_tokens(self) -> set[str]:
        """Return MariaDB's trigram tokens: every 3-character substring of each text field (`t`), of the name
        (`m`) and of the initials (`i`); SQLite and PostgreSQL serve 3+ characters with trigram indexes."""
        found: set[str] = set()
        for segment in self.search_text.split(SEPARATOR):
            found.update("t" + gram for gram in _trigrams(segment))
        found.update("m" + gram for gram in _trigrams(self.search_name))
        found.update("i" + gram for gram in _trigrams(self.search_initials))
        return found

    def gram_words(self, dialect: str) -> str:
        """Return the space-separated words of `tokens()` (`word_of` each; SQLite, PostgreSQL: MariaDB keeps
        the tokens in a table). Built from each character's hex once: a bulk load computes 100,000s of these."""
        if dialect in _MYSQL:
            return ""
        found: set[str] = set()
        for segment in self.search_text.split(SEPARATOR):
            found.update("a" + h for h in _hex_grams(segment))
        found.update("n" + h for h in _hex_grams(self.search_name))
        found.update("c" + h for h in _hex_grams(self.search_initials))
        found.update("w" + word.encode("utf-8").hex() for word in self.words)
        if self.search_name:
            found.add("x" + self.search_name.encode("utf-8").hex())
        return " ".join(found)


def _grams(segment: str) -> set[str]:
    grams = set(segment)
    grams.update(segment[i:i + 2] for i in range(len(segment) - 1))
    return grams


def _trigrams(segment: str) -> set[str]:
    return {segment[i:i + 3] for i in range(len(segment) - 2)}


def _hex_grams(segment: str) -> set[str]:
    hexes = [char.encode("utf-8").hex() for char in segment]
    grams = set(hexes)
    grams.update(a + b for a, b in zip(hexes, hexes[1:], strict=False))
    return grams


def whole_words(name: str) -> set[str]:
    """Return a name's whole words: its words, their letter/digit runs, and pairs of adjacent words (compact)."""
    spaced = normalize(name).split(" ")
    words = {w for w in spaced if w}
    for word in spaced:
        words.update(_WORD.findall(word))
    words.update(a + b for a, b in zip(spaced, spaced[1:], strict=False) if a and b)
    return {w for w in words if len(w) <= MAX_KEYWORD}


def vocabulary(name: str) -> set[str]:
    """Return the name's words a query word may be corrected to: whole words without digits, 2+ characters."""
    return {w for w in whole_words(name) if 2 <= len(w) <= MAX_TERM and not any(c.isdigit() for c in w)}


def build_search_fields(name: str, description: str, content_html: str) -> SearchFields:
    """Return the derived search columns of a product."""
    search_name = compact(name)
    return SearchFields(
        search_name=search_name, search_initials=initials(search_name),
        search_text=SEPARATOR.join((search_name, compact(description), compact(html_text(content_html)))),
        words=frozenset(whole_words(name)))


def word_of(token: str) -> str:
    """Encode one token as a plain ASCII word every word index keeps: its kind letter, then its UTF-8 in hex."""
    return token[0] + token[1:].encode("utf-8").hex()


def term_keys(term: str) -> set[str]:
    """Return the lookup keys of a vocabulary term: its jamo, and its jamo less any one letter.

    Two words one edit apart share a key (symmetric delete), so candidates are one indexed lookup away.
    """
    letters = jamo(term)
    return {letters} | {letters[:i] + letters[i + 1:] for i in range(len(letters))}


# --- what a shopper asks for -----------------------------------------------------------------------
def normalize_keyword(keyword: str | None) -> str:
    """Return the keyword as the index sees it, words separated by single spaces ('' when nothing to search)."""
    if not keyword:
        return ""
    return normalize(keyword.replace(SEPARATOR, " "))[:MAX_KEYWORD].strip()


@dataclass(frozen=True)
class Word:
    """One word of a query: what it matches exactly (itself and its synonyms), in 초성, and with one typo."""

    text: str
    exact: tuple[str, ...] = ()
    initials: str = ""
    pattern: str = ""  # a mixed word ("니ㅌ"): its syllables must be where its initials match
    typos: tuple[str, ...] = ()


def choseong_word(word: str) -> bool:
    """Return whether a query word is (partly) typed as initial consonants."""
    return any(is_choseong(char) for char in word)


def parse_words(keyword: str, synonyms: dict[str, list[str]]) -> list[Word]:
    """Split a normalised keyword into words; two adjacent words that are one synonym entry become one word."""
    raw = [w for w in keyword.split(" ") if w]
    words: list[Word] = []
    i = 0
    while i < len(raw):
        pair = raw[i] + raw[i + 1] if i + 1 < len(raw) else ""
        if pair and pair in synonyms:
            words.append(_word(pair, synonyms))
            i += 2
            continue
        words.append(_word(raw[i], synonyms))
        i += 1
    return words


def _word(text_: str, synonyms: dict[str, list[str]]) -> Word:
    if choseong_word(text_):
        return Word(text=text_, initials=initials(text_),
                    pattern="" if all(is_choseong(c) for c in text_) else text_)
    alternatives = [text_, *(s for s in synonyms.get(text_, []) if s and s != text_)]
    return Word(text=text_, exact=tuple(dict.fromkeys(alternatives)))


def synonym_keys(keyword: str) -> list[str]:
    """Return the words and adjacent word pairs of a keyword that a synonym entry may name."""
    raw = [w for w in keyword.split(" ") if w]
    return sorted(set(raw) | {a + b for a, b in zip(raw, raw[1:], strict=False)})


# --- set expressions -------------------------------------------------------------------------------
FIELD_KIND = {"name": "n", "text": "a", "initials": "c"}
FIELD_COLUMN = {"name": "search_name", "text": "search_text", "initials": "search_initials"}


@dataclass(frozen=True)
class Contains:
    """Products whose field (name, text or initials) contains `value`."""

    field: str
    value: str


@dataclass(frozen=True)
class Token:
    """Products having an index token: `w` a whole word of the name, `x` the whole name."""

    kind: str
    value: str


@dataclass(frozen=True)
class Pattern:
    """Products whose name matches a mixed 초성 word (checked on the product row, after `Contains`)."""

    word: str


@dataclass(frozen=True)
class And:
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class Minus:
    """Products of `keep` that are not in `drop` (a relevance tier: this level less the better ones)."""

    keep: Any
    drop: Any


NOTHING = Or(())


def all_of(parts: Iterable[Any]) -> Any:
    """Return the intersection (NOTHING if any part is NOTHING); nested intersections are flattened."""
    items = tuple(dict.fromkeys(q for p in parts for q in (p.parts if isinstance(p, And) else (p,))))
    if any(p == NOTHING for p in items):
        return NOTHING
    return items[0] if len(items) == 1 else And(items)


def any_of(parts: Iterable[Any]) -> Any:
    """Return the union (NOTHING parts dropped); nested unions are flattened."""
    items = tuple(dict.fromkeys(q for p in parts if p != NOTHING for q in (p.parts if isinstance(p, Or) else (p,))))
    if not items:
        return NOTHING
    return items[0] if len(items) == 1 else Or(items)


def _choseong_part(word: Word) -> Any:
    if not word.initials:
        return NOTHING
    found = Contains("initials", word.initials)
    if not word.pattern:
        return found
    # a mixed word ("니ㅌ"): its syllables narrow the candidates in the index before the row check
    syllables = [run for run in re.split(r"[\u1100-\u1112]+", word.pattern) if run]
    return And((found, *(Contains("name", run) for run in syllables), Pattern(word.pattern)))


def whole_word_set(word: Word) -> Any:
    """Products whose name has the word (or a synonym) as a whole word."""
    return any_of(Token("w", e) for e in word.exact)


def name_set(word: Word) -> Any:
    """Products whose name contains the word, a synonym, or its 초성."""
    return any_of([*(Contains("name", e) for e in word.exact), _choseong_part(word)])


def text_set(word: Word) -> Any:
    """Products whose text (name, description, content) contains the word, or whose name has a synonym or
    its 초성. A synonym is product vocabulary: in descriptions it would mostly find other words' insides
    ("wool" → "울" would find every "겨울", winter)."""
    literal = [Contains("text", word.exact[0])] if word.exact else []
    return any_of([*literal, *(Contains("name", e) for e in word.exact[1:]), _choseong_part(word)])


def typo_set(word: Word) -> Any:
    """Products whose name has a whole word one typo away from the query word."""
    return any_of(Token("w", t) for t in word.typos)


def relevance_levels(words: list[Word], keyword_compact: str) -> list[Any]:
    """Return the nested match sets, best first; relevance tier k is level k less level k-1.

    0: the whole name is the query; 1: every word is a whole word of the name; 2: every word is in the
    name; 3: every word is in the text (name, description, content); 4: with typo corrections too.
    """
    exact_name = Token("x", keyword_compact) if keyword_compact and not choseong_word(keyword_compact) else NOTHING
    levels = [
        exact_name,
        any_of([exact_name, all_of(whole_word_set(w) for w in words)]),
        all_of(name_set(w) for w in words),
        all_of(text_set(w) for w in words),
        all_of(any_of([text_set(w), typo_set(w)]) for w in words),
    ]
    kept: list[Any] = []
    for level in levels:
        if level != NOTHING and (not kept or level != kept[-1]):
            kept.append(level)
    return kept


def matches(words: list[Word]) -> Any:
    """Return every product the query finds (the last relevance level)."""
    return all_of(any_of([text_set(w), typo_set(w)]) for w in words)


def leaves(expression: Any) -> list[Any]:
    """Return the leaves of an expression."""
    if isinstance(expression, And | Or):
        return [leaf for part in expression.parts for leaf in leaves(part)]
    if isinstance(expression, Minus):
        return leaves(expression.keep) + leaves(expression.drop)
    return [expression]


# --- SQLite: one compound select of rowids over the FTS5 tables -----------------------------------
TRIGRAM_TABLE, GRAM_TABLE = "product_fts", "product_gram_fts"


def _phrase(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _fts_leaf(leaf: Any) -> tuple[str, str] | None:
    """Return (table, MATCH expression) serving one leaf on SQLite, or None for a row check (Pattern)."""
    if isinstance(leaf, Token):
        return GRAM_TABLE, word_of(leaf.kind + leaf.value)
    if isinstance(leaf, Contains):
        if len(leaf.value) <= 2:
            return GRAM_TABLE, word_of(FIELD_KIND[leaf.field] + leaf.value)
        return TRIGRAM_TABLE, "{" + FIELD_COLUMN[leaf.field] + "} : " + _phrase(leaf.value)
    return None


def fts_match(expression: Any) -> tuple[str, str] | None:
    """Return (table, MATCH expression) when the whole expression is served by one FTS5 table, else None."""
    if isinstance(expression, And | Or):
        served = [fts_match(part) for part in expression.parts]
        if not served or any(s is None for s in served) or len({s[0] for s in served if s}) != 1:
            return None
        joiner = " AND " if isinstance(expression, And) else " OR "
        return served[0][0], joiner.join(f"({s[1]})" for s in served if s)  # type: ignore[index]
    if isinstance(expression, Minus):
        keep, drop = fts_match(expression.keep), fts_match(expression.drop)
        if keep is None or drop is None or keep[0] != drop[0]:
            return None
        return keep[0], f"({keep[1]}) NOT ({drop[1]})"
    return _fts_leaf(expression)


class SqliteRowids:
    """Build the compound select of rowids of an expression, with its bind parameters."""

    def __init__(self) -> None:
        self.params: dict[str, str] = {}

    def bind(self, value: str) -> str:
        name = f"q{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def sql(self, expression: Any) -> str:
        """Return a SELECT of the matching product ids."""
        served = fts_match(expression)
        if served is not None:
            table, query = served
            return f"SELECT rowid FROM {table} WHERE {table} MATCH {self.bind(query)}"
        if expression == NOTHING:
            return "SELECT rowid FROM product_fts WHERE 0"
        if isinstance(expression, Minus):
            return f"SELECT * FROM ({self.sql(expression.keep)} EXCEPT {self.sql(expression.drop)})"
        if isinstance(expression, Or):
            return "SELECT * FROM (" + " UNION ".join(self.sql(p) for p in expression.parts) + ")"
        if isinstance(expression, And):
            patterns = [p for p in expression.parts if isinstance(p, Pattern)]
            rest = [p for p in expression.parts if not isinstance(p, Pattern)]
            grouped = self._grouped(rest)
            inner = "SELECT * FROM (" + " INTERSECT ".join(self.sql(p) for p in grouped) + ")" \
                if len(grouped) > 1 else self.sql(grouped[0])
            for pattern in patterns:  # a mixed 초성 word: check the syllables on the candidates' names
                inner = (f"SELECT id FROM product WHERE id IN ({inner}) AND search_name GLOB "
                         f"{self.bind(glob_of(pattern.word))}")
            return inner
        raise ValueError(f"cannot serve {expression!r}")

    @staticmethod
    def _grouped(parts: list[Any]) -> list[Any]:
        """Put the parts one FTS table serves into one AND (one MATCH) per table."""
        by_table: dict[str, list[Any]] = {}
        others: list[Any] = []
        for part in parts:
            served = fts_match(part)
            if served is None:
                others.append(part)
            else:
                by_table.setdefault(served[0], []).append(part)
        return [group[0] if len(group) == 1 else And(tuple(group)) for group in by_table.values()] + others


def compile_sqlite(expression: Any) -> tuple[str, dict[str, str]]:
    """Return (SELECT of rowids, parameters) for an expression on SQLite."""
    builder = SqliteRowids()
    return builder.sql(expression), builder.params


def glob_of(word: str) -> str:
    """Return the GLOB pattern of a mixed 초성 word: a syllable as itself, an initial as its syllable range."""
    parts = []
    for char in word:
        if is_choseong(char):
            first = 0xAC00 + (ord(char) - 0x1100) * 588
            parts.append(f"[{chr(first)}-{chr(first + 587)}]")
        elif char in "*?[]":
            parts.append(f"[{char}]")
        else:
            parts.append(char)
    return "*" + "".join(parts) + "*"


def regex_of(word: str) -> str:
    """Return the regular expression of a mixed 초성 word (MariaDB REGEXP, PostgreSQL ~)."""
    parts = []
    for char in word:
        if is_choseong(char):
            first = 0xAC00 + (ord(char) - 0x1100) * 588
            parts.append(f"[{chr(first)}-{chr(first + 587)}]")
        else:
            parts.append(re.escape(char))
    return "".join(parts)


def sqlite_probe(expression: Any) -> ColumnElement[bool] | None:
    """Return "this product is in the set" as one FTS5 lookup by rowid, when one gram-table MATCH serves it.

    ~20 us a row, so only for walks of a few dozen rows (a very frequent word): then it beats materialising
    every match first. A trigram phrase probe costs ~2 ms a row: never used.
    """
    served = fts_match(expression)
    if served is None or served[0] != GRAM_TABLE:
        return None
    return text(f"EXISTS (SELECT 1 FROM {GRAM_TABLE} WHERE {GRAM_TABLE} MATCH :probe_q "
                f"AND {GRAM_TABLE}.rowid = product.id)").bindparams(probe_q=served[1])


# --- MariaDB and PostgreSQL: a WHERE condition on product -----------------------------------------
def mysql_token(kind: str, value: str) -> str:
    """Return MariaDB's `product_gram.gram` of a token."""
    return kind + value


TRIGRAM_KIND = {"name": "m", "text": "t", "initials": "i"}
MAX_BRANCHES = 8  # MariaDB: an intersection of unions of tokens is served as a union of at most this many joins
MAX_PIECES = 6  # trigram tokens a 3+ character word is looked up by on MariaDB (more: rechecked on the row)


@dataclass(frozen=True)
class Pieces:
    """MariaDB tokens every product of a leaf has; `recheck`: also check the row (INSTR), else exactly those."""

    tokens: tuple[str, ...]
    recheck: bool = False


def pieces(leaf: Any) -> Pieces | None:
    """Return the MariaDB tokens of a leaf (a Token, or a Contains of any length); None for a Pattern."""
    if isinstance(leaf, Token):
        return Pieces((mysql_token(leaf.kind, leaf.value),))
    if not isinstance(leaf, Contains):
        return None
    if len(leaf.value) <= 2:
        return Pieces((FIELD_KIND[leaf.field] + leaf.value,))
    kind, value = TRIGRAM_KIND[leaf.field], leaf.value
    starts = [*range(0, len(value) - 2, 3), len(value) - 3]
    grams = list(dict.fromkeys(value[i:i + 3] for i in starts))
    if len(grams) <= MAX_PIECES:
        return Pieces(tuple(kind + g for g in grams))
    return Pieces(tuple(kind + g for g in _spread(grams, MAX_PIECES)), recheck=True)


def token_groups(expression: Any) -> tuple[tuple[str, ...], ...] | None:
    """Return token groups such that the expression's products are exactly those having a token of every
    group, when it is a leaf, a union of one-token leaves, or an intersection of those (no row check);
    else None. One join of index ranges serves it (`having_all`)."""
    groups: list[tuple[str, ...]] = []
    for part in expression.parts if isinstance(expression, And) else (expression,):
        got = pieces(part)
        if got is not None and not got.recheck:
            groups.extend((token,) for token in got.tokens)
            continue
        union_of = token_union(part) if isinstance(part, Or) else None
        if union_of is None:
            return None
        groups.append(tuple(union_of))
    branches = 1
    for group in groups:
        branches *= len(group)
    return (tuple(dict.fromkeys(groups)) or None) if branches <= MAX_BRANCHES else None


def token_union(expression: Any) -> list[str] | None:
    """Return the tokens whose products are exactly the set, when it is one token or a union of them."""
    parts = expression.parts if isinstance(expression, Or) else (expression,)
    grams = [Conditions.gram_of(p) for p in parts]
    return None if not grams or any(g is None for g in grams) else [g for g in grams if g]


@lru_cache(maxsize=512)  # statements are immutable: a repeated search builds none again (~0.3 ms per join)
def having_all(groups: tuple[tuple[str, ...], ...]) -> Any:
    """Return a select of the ids (`id`, each once) of live products that have a token of every group.

    One token per group: a join of index ranges, which MariaDB starts from the smallest (it estimates each
    from the index). Groups of several tokens are spread into a union of such joins, one per choice of a
    token in each group (at most MAX_BRANCHES, see `token_groups`): MariaDB's plans for an IN list inside
    a join or an EXISTS compare whole ranges row by row (0.7–2.5 s at 100,000 products where this takes 3 ms).
    """
    if all(len(group) == 1 for group in groups):
        return _join_of(tuple(group[0] for group in groups))
    united = union(*(_join_of(choice) for choice in product(*groups))).subquery()
    return select(united.c.id)


def _join_of(tokens: tuple[str, ...]) -> Any:
    # Core aliases, not ORM ones: a search builds dozens, and an ORM alias costs ~0.1 ms of CPU each
    grams = ProductGram.__table__
    first = grams.alias("g0")
    statement = select(first.c.product_id.label("id")).where(first.c.gram == tokens[0])
    for i, token in enumerate(t for t in dict.fromkeys(tokens[1:]) if t != tokens[0]):
        other = grams.alias(f"g{i + 1}")
        statement = statement.join(other, and_(other.c.product_id == first.c.product_id, other.c.gram == token))
    return statement


def _spread(items: list[str], limit: int) -> list[str]:
    if len(items) <= limit:
        return items
    step = (len(items) - 1) / (limit - 1)
    return [items[round(i * step)] for i in range(limit)]


@dataclass
class Conditions:
    """Turn an expression into a condition on `product` (MariaDB, PostgreSQL)."""

    dialect: str
    target: Any = None

    def of(self, expression: Any) -> ColumnElement[bool]:
        target = self.target if self.target is not None else Product.id
        if expression == NOTHING:
            return false()
        if self.dialect in _MYSQL and (groups := token_groups(expression)) is not None:
            return target.in_(having_all(groups))
        if isinstance(expression, And):
            return and_(*(self.of(p) for p in expression.parts))
        if isinstance(expression, Or):
            if self.dialect in _MYSQL:  # one semi-join over a union: MariaDB scans the table for an OR of them
                return target.in_(self.mysql_ids(expression))
            return or_(*(self.of(p) for p in expression.parts))
        if isinstance(expression, Minus):
            if self.dialect in _MYSQL:
                return and_(self.of(expression.keep), _absent(target, expression.drop))
            return and_(self.of(expression.keep), not_(self.of(expression.drop)))
        if isinstance(expression, Pattern):
            if self.dialect in _MYSQL:
                return Product.search_name.op("REGEXP")(regex_of(expression.word))
            return Product.search_name.op("~")(regex_of(expression.word))
        if self.dialect in _MYSQL:  # a long word: its pieces' products, rechecked on the row (`_mysql_ids`)
            return target.in_(_mysql_ids(expression))
        return self._postgres(expression)

    def mysql_ids(self, expression: Any) -> Any:
        """Return a select of the product ids (column `id`, each once) of any expression (MariaDB), the row
        checks inside it. Sets are materialised and joined, not `IN`-tested row by row: MariaDB walks a
        whole index to semi-join a union of tokens (50 ms at 100,000 products where the join takes 10)."""
        return _mysql_ids(expression)

    @staticmethod
    def gram_of(leaf: Any) -> str | None:
        """Return the one token a leaf is (a whole word, the whole name, a 1-3 character gram), else None."""
        found = pieces(leaf)
        return found.tokens[0] if found is not None and len(found.tokens) == 1 and not found.recheck else None

    @staticmethod
    def _postgres(leaf: Any) -> ColumnElement[bool]:
        if isinstance(leaf, Contains) and len(leaf.value) > 2:
            escaped = leaf.value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            return getattr(Product, FIELD_COLUMN[leaf.field]).like(f"%{escaped}%", escape="\\")
        token = (leaf.kind + leaf.value) if isinstance(leaf, Token) else FIELD_KIND[leaf.field] + leaf.value
        simple = literal_column("'simple'::regconfig")  # the GIN index's expression, exactly
        return func.to_tsvector(simple, Product.search_grams).op("@@", return_type=Boolean)(
            func.to_tsquery(simple, bindparam(None, word_of(token))))


@lru_cache(maxsize=512)  # expressions are frozen and statements immutable: a repeated search builds none again
def _mysql_ids(expression: Any) -> Any:
    """Return `Conditions.mysql_ids` of an expression."""
    if (groups := token_groups(expression)) is not None:
        return having_all(groups)
    if isinstance(expression, Or):
        # as a derived table: MariaDB runs `IN (SELECT ... UNION ...)` again for every outer row, but
        # materialises a derived table once
        united = union(*(_mysql_ids(p) for p in expression.parts)).subquery()
        return select(united.c[0].label("id"))
    row = Product.__table__.alias("r").c
    if isinstance(expression, Contains):  # a long word: its pieces' products, rechecked on the row
        found = pieces(expression)
        assert found is not None
        candidates = having_all(tuple((t,) for t in found.tokens)).subquery()
        return (select(row.id.label("id")).select_from(candidates).join(row.id.table, row.id == candidates.c.id)
                .where(func.instr(getattr(row, FIELD_COLUMN[expression.field]), expression.value)
                       > literal_column("0")))
    if isinstance(expression, And):
        # start from a part the index serves alone; the others are semi-joins (or row checks)
        parts = sorted(expression.parts, key=lambda p: (isinstance(p, Pattern), token_groups(p) is None))
        driver = _mysql_ids(parts[0]).subquery()
        statement = select(driver.c.id)
        for part in parts[1:]:
            if isinstance(part, Pattern):
                statement = statement.join(row.id.table, row.id == driver.c.id).where(
                    row.search_name.op("REGEXP")(regex_of(part.word)))
            else:
                statement = statement.where(driver.c.id.in_(_mysql_ids(part)))
        return statement
    if isinstance(expression, Minus):
        keep = _mysql_ids(expression.keep).subquery()
        return select(keep.c.id).where(_absent(keep.c.id, expression.drop))
    if expression == NOTHING:
        return select(ProductGram.product_id.label("id")).where(false())
    raise ValueError(f"cannot serve {expression!r}")


def _absent(target: Any, expression: Any) -> ColumnElement[bool]:
    """Return "`target` is not in the set" (MariaDB): one NOT EXISTS probe per token when tokens are the set."""
    if token_union(expression) is not None:
        return not_(present(target, expression))
    return target.not_in(_mysql_ids(expression))


def _has(target: Any, gram: str) -> ColumnElement[bool]:
    """Return "the product `target` has the token": one probe of the token index's primary key. One EXISTS per
    token: with `gram IN (...)` MariaDB reads the tokens' whole ranges for every row instead."""
    return exists().where(ProductGram.gram == gram, ProductGram.product_id == target)


def present(target: Any, expression: Any) -> ColumnElement[bool]:
    """Return "`target` is in the set" (MariaDB) as probes of the token index by id (one per token, `_has`) and,
    for a long word or a mixed 초성 word, a check of the product row: cheap for the few rows that reach it,
    where `IN (set)` would build the whole set first. `target` is `product.id` of the statement."""
    if expression == NOTHING:
        return false()
    if isinstance(expression, Or):
        return or_(*(present(target, p) for p in expression.parts))
    if isinstance(expression, And):
        return and_(*(present(target, p) for p in expression.parts))
    if isinstance(expression, Minus):
        return and_(present(target, expression.keep), not_(present(target, expression.drop)))
    if isinstance(expression, Pattern):
        return Product.search_name.op("REGEXP")(regex_of(expression.word))
    found = pieces(expression)
    assert found is not None
    probes = [_has(target, token) for token in found.tokens]
    if found.recheck:
        column = getattr(Product, FIELD_COLUMN[expression.field])
        probes.append(func.instr(column, expression.value) > literal_column("0"))
    return and_(*probes)
