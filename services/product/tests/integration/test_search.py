"""Search: one suite, run on SQLite and (when their URLs are set) on MariaDB and PostgreSQL.

The same catalog must give the same answers on every dialect: Korean and English substrings of
name, description and content, filters, the five sorts, exact totals and paging.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import event, select, text

from gluta_contracts import OrderConfirmed, OrderLine
from gluta_product.catalog.models import Product
from gluta_product.catalog.search import Contains
from gluta_product.catalog.service import TextSet
from gluta_product.stock.service import count_sales

pytestmark = pytest.mark.asyncio(loop_scope="module")

CATALOG = [
    # key, name, description, content, type, styles, price
    ("cardigan", "울 니트 가디건", "따뜻한 겨울 아우터", "<p>부드러운 <b>울</b> 소재</p>", "아우터", ["캐주얼"],
     59_000),
    ("sweater", "스트라이프 니트 스웨터", "Soft stripe knit", "", "상의", ["캐주얼", "빈티지"], 39_000),
    ("wool", "Wool Knit Cardigan", "A classic cardigan", "<p>100% wool</p>", "아우터", ["미니멀"], 89_000),
    ("denim", "와이드 데님 팬츠", "데일리 청바지", "<p>니트 소재 아님</p>", "하의", ["캐주얼"], 49_000),
    ("slacks", "Slim Slacks", "office pants_50%", "<script>hidden니트</script><p>stretch</p>", "하의",
     ["오피스"], 45_000),
    ("linen", "린넨 셔츠", "여름 셔츠", "", "상의", [], 29_000),
    ("beanie", "KNITTED Beanie", "", "", "상의", [], 15_000),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "mysql", "postgres"])
async def catalog(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, start_app: Any,
                  fresh_database: Any) -> AsyncIterator[tuple[Any, dict[str, int], dict[str, int]]]:
    async with fresh_database(request.param) as url, start_app(tmp_path_factory.mktemp(request.param), url) as api:
        types = {name: await api.create_type(name) for name in ("아우터", "상의", "하의")}
        ids: dict[str, int] = {}
        for key, name, description, content, type_name, styles, price in CATALOG:
            product = await api.create_product(types[type_name], name, description=description, content=content,
                                               styles=styles, price=price)
            ids[key] = product["productId"]
        assert (await api.client.delete(f"/products/{ids['linen']}", headers=api.admin)).status_code == 204
        synonyms = {"items": [{"term": "cardigan", "synonyms": ["가디건"]}]}
        assert (await api.client.put("/synonyms", json=synonyms, headers=api.admin)).status_code == 200
        for member, key in ((11, "wool"), (12, "wool"), (11, "sweater")):
            assert (await api.client.put(f"/products/{ids[key]}/like", headers=api.member(member))).status_code == 204
        await count_sales(api.service.uow(), OrderConfirmed(order_id=1, member_id=11, pay_amount=1,
                                                            lines=[OrderLine(product_id=ids["denim"], quantity=5)]))
        yield api, ids, types


async def find(api: Any, **params: Any) -> dict[str, Any]:
    response = await api.client.get("/products/search", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def keys_of(body: dict[str, Any], ids: dict[str, int]) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    return [by_id[item["productId"]] for item in body["items"]]


@pytest.mark.parametrize(("keyword", "expected"), [
    ("니트", {"cardigan", "sweater", "denim"}),          # two syllables: name and content; not the script
    ("니", {"cardigan", "sweater", "denim"}),            # one syllable
    ("니트 가디건", {"cardigan"}),                       # a phrase with a space
    ("트 가", {"cardigan"}),                             # any substring, across words
    ("울", {"cardigan"}),                                # one syllable found in the name and the content
    ("knit", {"sweater", "wool", "beanie"}),             # English, any case, description too
    ("KNIT", {"sweater", "wool", "beanie"}),
    ("it", {"sweater", "wool", "beanie"}),
    ("wool", {"wool"}),                                  # content text
    ("청바지", {"denim"}),                               # description only
    ("50%", {"slacks"}),                                 # LIKE wildcards are plain characters
    ("%", {"slacks", "wool"}),
    ("_", {"slacks"}),
    ("hidden", set()),                                   # script content was removed on the way in
    ("셔츠", set()),                                     # the only match is deleted
    ("니트 가디건 아님", set()),
    ("아우터\n니트", {"cardigan"}),                      # two words: each may be in another field
    ("터부", set()),                                     # no match spans two fields (description | content)
    ("니트가디건", {"cardigan"}),                        # spacing-free
    ("가디건 울", {"cardigan"}),                         # any order
    ("ㄴㅌㄱㄷ", {"cardigan"}),                          # 초성 of the name
    ("니ㅌ", {"cardigan", "sweater"}),                   # mixed 초성: names only (denim has 니트 in its content)
    ("가디견", {"cardigan"}),                            # one wrong jamo in a 3-syllable word
    ("cardigan", {"cardigan", "wool"}),                  # a default synonym (cardigan -> 가디건)
    ("Wool knit", {"wool"}),
])
async def test_keyword_matches_substrings(catalog: Any, keyword: str, expected: set[str]) -> None:
    api, ids, _ = catalog
    body = await find(api, keyword=keyword, size=100)
    assert set(keys_of(body, ids)) == expected
    assert body["total"] == len(expected)


async def test_filters_by_type_style_and_price(catalog: Any) -> None:
    api, ids, types = catalog
    assert set(keys_of(await find(api, keyword="니트", type=types["아우터"]), ids)) == {"cardigan"}
    assert set(keys_of(await find(api, style="캐주얼"), ids)) == {"cardigan", "sweater", "denim"}
    assert set(keys_of(await find(api, style="#캐주얼", keyword="knit"), ids)) == {"sweater"}
    body = await find(api, minPrice=40_000, maxPrice=60_000)
    assert set(keys_of(body, ids)) == {"cardigan", "denim", "slacks"} and body["total"] == 3
    assert (await find(api, minPrice=100_000))["total"] == 0


async def test_sorts(catalog: Any) -> None:
    api, ids, _ = catalog
    assert keys_of(await find(api), ids) == ["beanie", "slacks", "denim", "wool", "sweater", "cardigan"]
    assert keys_of(await find(api, sort="priceAsc"), ids) == ["beanie", "sweater", "slacks", "denim", "cardigan",
                                                            "wool"]
    assert keys_of(await find(api, sort="priceDesc"), ids) == ["wool", "cardigan", "denim", "slacks", "sweater",
                                                             "beanie"]
    assert keys_of(await find(api, sort="name"), ids) == ["beanie", "slacks", "wool", "sweater", "denim",
                                                        "cardigan"]
    assert keys_of(await find(api, sort="popular"), ids) == ["denim", "wool", "sweater", "beanie", "slacks",
                                                           "cardigan"]


PLANS = [  # the same answers whichever way the page is found (see catalog/service.py)
    {"MANY_MATCHES": 0, "WALK_RATIO": 10**9},                          # walk the sort index
    {"MANY_MATCHES": 10**9},                                           # never walk
    {"MANY_MATCHES": 0, "WALK_RATIO": 10**9, "PROBE_ROWS": 10**9},     # SQLite: walk, probing the FTS table
]


@pytest.mark.parametrize("keyword", ["니트", "knit", "it", "울", "니트 가디건"])
@pytest.mark.parametrize("sort", ["newest", "priceAsc", "priceDesc", "name", "popular"])
async def test_large_match_plan_gives_the_same_pages(catalog: Any, monkeypatch: pytest.MonkeyPatch, keyword: str,
                                                     sort: str) -> None:
    api, ids, types = catalog
    for extra in ({}, {"style": "캐주얼"}, {"type": types["아우터"], "minPrice": 50_000}):
        expected = [await find(api, keyword=keyword, sort=sort, size=2, page=page, **extra) for page in (1, 2, 3)]
        for plan in PLANS:
            for name, value in plan.items():
                monkeypatch.setattr(f"gluta_product.catalog.service.{name}", value)
            assert [await find(api, keyword=keyword, sort=sort, size=2, page=page, **extra)
                    for page in (1, 2, 3)] == expected, plan
            monkeypatch.undo()


async def test_pages_are_cut_in_the_database_with_exact_totals(catalog: Any) -> None:
    api, ids, _ = catalog
    first = await find(api, sort="priceAsc", size=4, page=1)
    second = await find(api, sort="priceAsc", size=4, page=2)
    beyond = await find(api, sort="priceAsc", size=4, page=3)
    assert (first["total"], second["total"], beyond["total"]) == (6, 6, 6)
    assert keys_of(first, ids) + keys_of(second, ids) == ["beanie", "sweater", "slacks", "denim", "cardigan", "wool"]
    assert beyond["items"] == []
    # a product with two styles is counted once
    assert (await find(api, keyword="스웨터"))["total"] == 1


async def test_summary_fields(catalog: Any) -> None:
    api, ids, _ = catalog
    response = await api.client.get("/products/search", params={"keyword": "stripe"}, headers=api.member(11))
    item = response.json()["items"][0]
    assert item["productId"] == ids["sweater"]
    assert item["productType"]["type"] == "상의"
    assert item["productStyles"] == ["빈티지", "캐주얼"]
    assert (item["likeCount"], item["liked"], item["soldOut"], item["inquiryCount"]) == (1, True, False, 0)
    guest = (await find(api, keyword="stripe"))["items"][0]
    assert guest["liked"] is False


@pytest.mark.parametrize("params", [{"sort": "cheapest"}, {"page": 0}, {"size": 101}, {"minPrice": -1},
                                    {"type": "abc"}, {"page": "999999999999999999999"}, {"keyword": "x" * 201}])
async def test_bad_search_input_is_422(catalog: Any, params: dict[str, Any]) -> None:
    api, _, _ = catalog
    response = await api.client.get("/products/search", params=params)
    assert response.status_code == 422
    assert response.json()["code"] == "VALIDATION_ERROR"


async def test_keyword_search_is_served_by_a_text_index(catalog: Any) -> None:
    api, _, _ = catalog
    db = api.service.db
    expected = {
        "sqlite": {"knit": "product_fts", "니트": "product_gram_fts"},
        "postgresql": {"knit": "ix_product_search_trgm", "니트": "ix_product_search_grams"},
        "mysql": {"knit": "g0 ref PRIMARY", "니트": "g0 ref PRIMARY"},  # token ranges (product_gram AS g0)
    }[db.dialect]
    async with db.read_sessions() as session:
        if db.dialect == "postgresql":
            await session.execute(text("SET enable_seqscan = off"))  # tiny table: ask whether the index CAN serve
        explain = "EXPLAIN QUERY PLAN" if db.dialect == "sqlite" else "EXPLAIN"
        for term, index in expected.items():
            statement = select(Product.id).where(TextSet(db.dialect, Contains("text", term)).condition())
            compiled = str(statement.compile(dialect=session.bind.dialect, compile_kwargs={"literal_binds": True}))
            assert "LIKE '%" not in compiled.upper() or db.dialect == "postgresql"
            plan = " | ".join(" ".join(str(v) for v in row) for row in
                              (await session.execute(text(f"{explain} {compiled}"))).all())
            assert index in plan, plan


async def test_filtered_counts_read_the_narrow_index(catalog: Any) -> None:
    """A keyword + type count checks the matching ids in `ix_product_search_cover`, not in the wide rows."""
    api, _, types = catalog
    db = api.service.db
    if db.dialect == "postgresql":
        pytest.skip("PostgreSQL checks the ids in its heap (bitmap scan); no narrow index there")
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        statements.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        assert (await find(api, keyword="니트", type=types["아우터"]))["total"] == 1
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    statement, parameters = next((s, p) for s, p in statements if "count(" in s.lower())
    explain = "EXPLAIN QUERY PLAN" if db.dialect == "sqlite" else "EXPLAIN"
    async with db.engine.connect() as conn:
        plan = " | ".join(" ".join(str(v) for v in row) for row in
                          (await conn.exec_driver_sql(f"{explain} {statement}", parameters)).all())
    assert "ix_product_search_cover" in plan, plan


@pytest.mark.parametrize("keyword", ["니트 가디건", "knit", "cardigan"])
async def test_totals_past_the_last_page(catalog: Any, keyword: str) -> None:
    """A page past the end still has the exact total (MariaDB's 3+ character page carries its count)."""
    api, _, types = catalog
    for extra in ({}, {"type": types["아우터"]}, {"style": "캐주얼", "minPrice": 10_000}):
        first = await find(api, keyword=keyword, size=1, **extra)
        beyond = await find(api, keyword=keyword, size=1, page=first["total"] + 2, **extra)
        assert beyond["items"] == [] and beyond["total"] == first["total"], extra


@pytest.mark.parametrize("dialect", ["sqlite", "mysql", "postgres"])
async def test_long_words_and_pieces(dialect: str, tmp_path: Any, start_app: Any, fresh_database: Any) -> None:
    """A word of 19+ characters is found exactly everywhere (MariaDB: rechecked on the row). MariaDB matches a
    shorter 3+ character word by its trigram pieces ("wool": woo, ool), so a field with the pieces apart
    matches there and not on SQLite or PostgreSQL (catalog/search.py, `pieces`)."""
    async with fresh_database(dialect) as url, start_app(tmp_path, url) as api:
        type_id = await api.create_type("아우터")
        long_id = (await api.create_product(type_id, "Extraordinarilylongwordname Coat"))["productId"]
        apart_id = (await api.create_product(type_id, "Woo Pool Shorts"))["productId"]
        wool_id = (await api.create_product(type_id, "Wool Coat"))["productId"]
        for keyword, found in (("extraordinarilylongword", {long_id}), ("xtraordinarilylongwordnamecoat", {long_id}),
                               ("extraordinarilylongwordx", set()), ("ordinarily longword", {long_id})):
            body = await find(api, keyword=keyword)
            assert {item["productId"] for item in body["items"]} == found and body["total"] == len(found), keyword
        body = await find(api, keyword="wool")
        pieces_apart = {apart_id} if api.service.db.dialect == "mysql" else set()
        assert {item["productId"] for item in body["items"]} == {wool_id} | pieces_apart
        assert body["items"][0]["productId"] == wool_id  # the name's whole word ranks first


INJECTIONS = ["' OR '1'='1", "' OR 1=1 --", "') OR ('1'='1", "\" OR \"1\"=\"1", "%' OR '%'='",
              "' UNION SELECT login_id, password_hash FROM member --", "1; DROP TABLE product; --",
              "1' AND SLEEP(2) --", "'; SELECT pg_sleep(2); --", "\\'", "\\", "NEAR(니트 울)", "니트\" OR \"울",
              "*", "울' OR 'a'='a", "^니트", "니트 AND 울", "' OR product_id > 0 --", "\x00", "\x01\x1f"]


async def test_sql_injection_in_keyword_and_style_finds_nothing_and_changes_nothing(catalog) -> None:
    """Every dialect's search statement (SQLite FTS5, MariaDB grams, PostgreSQL) takes the strings as data."""
    api, ids, types = catalog
    before = await find(api, size=100)
    for payload in INJECTIONS:
        for params in ({"keyword": payload}, {"style": payload}, {"keyword": payload, "sort": "popular"},
                       {"keyword": payload, "type": types["상의"], "minPrice": 0, "maxPrice": 100_000,
                        "sort": "priceAsc"},
                       {"keyword": payload, "style": "캐주얼", "page": 2, "size": 1}):
            response = await api.client.get("/products/search", params=params)
            if response.status_code == 422:  # a style is at most 40 characters
                assert len(payload) > 40 and "style" in params, params
                continue
            assert response.status_code == 200, (params, response.text)
            assert response.json()["total"] == 0, params  # no product holds these strings
    assert await find(api, size=100) == before


# --- relevance, autocomplete, did-you-mean, synonyms: one more small catalog on every dialect -----------
RANKED = [
    # key, name, description, likes
    ("exact", "울 니트 가디건", "", 0),
    ("whole", "니트 가디건", "", 1),
    ("whole_popular", "가디건 세트", "", 3),
    ("english", "Wool Cardigan", "", 2),
    ("joined", "니트가디건", "", 5),          # 가디건 only inside a word
    ("long", "롱가디건 코트", "", 4),
    ("described", "겨울 아우터", "가디건 스타일로 입는 아우터", 9),
    ("typo", "오버핏 가디견", "", 9),         # a seller's typo: one jamo off
    ("other", "린넨 셔츠", "", 9),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "mysql", "postgres"])
async def ranked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, start_app: Any,
                 fresh_database: Any) -> AsyncIterator[tuple[Any, dict[str, int]]]:
    async with fresh_database(request.param) as url, start_app(tmp_path_factory.mktemp(request.param), url) as api:
        type_id = await api.create_type("아우터")
        ids: dict[str, int] = {}
        for key, name, description, likes in RANKED:
            ids[key] = (await api.create_product(type_id, name, description=description))["productId"]
            for member in range(likes):
                assert (await api.client.put(f"/products/{ids[key]}/like",
                                             headers=api.member(100 + member))).status_code == 204
        assert (await api.client.put("/synonyms", json=synonyms_of_fixture(), headers=api.admin)).status_code == 200
        yield api, ids


async def test_relevance_is_name_whole_word_then_partial_then_text_then_typo(ranked: Any) -> None:
    api, ids = ranked
    body = await find(api, keyword="가디건")
    # whole words in the name (a synonym too), most liked first; inside a word; only in the description; typo
    assert keys_of(body, ids) == ["whole_popular", "english", "whole", "exact", "joined", "long", "described",
                                  "typo"]
    assert body["total"] == 8 and body["didYouMean"] is None
    # the exact name first, whatever the popularity
    assert keys_of(await find(api, keyword="울니트가디건"), ids)[0] == "exact"
    # spacing-free exact names ("니트가디건" = "니트 가디건") are equal, more liked first; then all whole words
    assert keys_of(await find(api, keyword="니트 가디건"), ids)[:3] == ["joined", "whole", "exact"]
    # paging walks through the tiers without losing or repeating anyone
    pages = [keys_of(await find(api, keyword="가디건", size=3, page=page), ids) for page in (1, 2, 3, 4)]
    assert sum(pages, []) == keys_of(body, ids) and pages[3] == []
    # other sorts still apply to the same matches
    newest = await find(api, keyword="가디건", sort="newest")
    assert keys_of(newest, ids) == ["typo", "described", "long", "joined", "english", "whole_popular", "whole",
                                    "exact"]


async def test_relevance_with_filters_and_explicit_sort(ranked: Any) -> None:
    api, ids = ranked
    body = await find(api, keyword="가디건", sort="relevance", maxPrice=10_000, size=4)
    assert keys_of(body, ids) == ["whole_popular", "english", "whole", "exact"] and body["total"] == 8
    assert (await find(api, sort="relevance"))["total"] == len(RANKED)  # no keyword: nothing to rank by


@pytest.mark.parametrize(("prefix", "first"), [
    ("니트", "니트가디건"), ("니트 가", "니트가디건"), ("울 니", "울 니트 가디건"), ("ㄴㅌㄱ", "니트가디건"),
    ("WOOL", "Wool Cardigan"), ("가디", "가디건 세트"),
])
async def test_autocomplete_prefix_spacing_free_and_choseong(ranked: Any, prefix: str, first: str) -> None:
    api, _ = ranked
    response = await api.client.get("/products/autocomplete", params={"prefix": prefix})
    assert response.status_code == 200
    items = response.json()["items"]
    assert items[0]["text"] == first and isinstance(items[0]["productId"], int)
    assert len(items) <= 10 and len({i["text"] for i in items}) == len(items)


async def test_autocomplete_edges(ranked: Any) -> None:
    api, _ = ranked
    assert (await api.client.get("/products/autocomplete", params={"prefix": "  "})).json() == {"items": []}
    assert (await api.client.get("/products/autocomplete", params={"prefix": "zzqx"})).json() == {"items": []}
    assert (await api.client.get("/products/autocomplete")).json() == {"items": []}
    assert (await api.client.get("/products/autocomplete", params={"prefix": "x" * 101})).status_code == 422


@pytest.mark.parametrize(("keyword", "suggestion"), [
    ("니투 가디건", "니트 가디건"),   # a 2-syllable word is not corrected by the search, but suggested
    ("린넨 스웨터", "린넨 셔츠"),      # every word finds something alone: the most popular name with the longest
    ("zzqx", None),
])
async def test_did_you_mean_when_nothing_is_found(ranked: Any, keyword: str, suggestion: str | None) -> None:
    api, ids = ranked
    body = await find(api, keyword=keyword)
    assert body["total"] == 0 and body["items"] == [] and body["didYouMean"] == suggestion
    if suggestion:
        assert (await find(api, keyword=suggestion))["total"] > 0


async def test_synonyms_are_the_admins_and_apply_at_once(ranked: Any) -> None:
    api, ids = ranked
    assert keys_of(await find(api, keyword="cardigan"), ids)[:2] == ["whole_popular", "english"]
    assert (await find(api, keyword="맨투맨"))["total"] == 0
    listed = (await api.client.get("/synonyms", headers=api.admin)).json()["items"]
    assert {"term": "맨투맨", "synonyms": ["스웨트셔츠"]} in listed  # spacing-free, as queries are
    assert (await api.client.get("/synonyms")).status_code == 401
    assert (await api.client.get("/synonyms", headers=api.member(1))).status_code == 403
    for bad in ({"items": [{"term": " ", "synonyms": ["a"]}]}, {"items": [{"term": "a", "synonyms": []}]},
                {"items": "x"}, {"items": [{"term": "a" * 51, "synonyms": ["b"]}]}):
        response = await api.client.put("/synonyms", json=bad, headers=api.admin)
        assert response.status_code == 422 and response.json()["code"] == "VALIDATION_ERROR"
    assert (await api.client.get("/synonyms", headers=api.admin)).json()["items"] == listed  # nothing lost
    replaced = {"items": [{"term": "Long Cardigan", "synonyms": ["롱가디건"]}]}
    assert (await api.client.put("/synonyms", json=replaced, headers=api.admin)).json() == {
        "items": [{"term": "longcardigan", "synonyms": ["롱가디건"]}]}
    assert keys_of(await find(api, keyword="long cardigan"), ids) == ["long"]
    assert (await find(api, keyword="cardigan"))["total"] == 1  # the old entries are gone
    assert (await api.client.put("/synonyms", json=synonyms_of_fixture(), headers=api.admin)).status_code == 200


def synonyms_of_fixture() -> dict[str, Any]:
    return {"items": [{"term": "cardigan", "synonyms": ["가디건"]}, {"term": "가디건", "synonyms": ["cardigan"]},
                      {"term": "맨투맨", "synonyms": ["스웨트 셔츠"]}]}


async def test_typo_terms_follow_edits_and_deletes(ranked: Any) -> None:
    api, ids = ranked
    assert "typo" in keys_of(await find(api, keyword="가디건"), ids)
    extra = await api.create_product((await api.client.get("/types")).json()[0]["productTypeId"], "스트라이프 머플러")
    assert keys_of(await find(api, keyword="스트라이퓨"), {"extra": extra["productId"]}) == ["extra"]
    assert (await api.client.delete(f"/products/{extra['productId']}", headers=api.admin)).status_code == 204
    body = await find(api, keyword="스트라이퓨")
    assert body["total"] == 0


@pytest.mark.parametrize("keyword", ['" OR "', "*", "NEAR(a b)", "{search_name}: x", "ㅏ", "ㄱㅏ", "😀😀😀", "a\x00b",
                                     "AND", "-", "^가디건", "ㄱ" * 60, "가디건 " * 30, "''", "%_%", "\\"])
async def test_odd_keywords_are_answered_not_failed(ranked: Any, keyword: str) -> None:
    api, _ = ranked
    response = await api.client.get("/products/search", params={"keyword": keyword})
    assert response.status_code == 200, response.text
    assert (await api.client.get("/products/autocomplete", params={"prefix": keyword[:100]})).status_code == 200
