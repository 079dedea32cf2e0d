"""The relevance set (tests/relevance/queries.json): queries as shoppers type them, with the products that must
come first, on the demo catalog and on a generated catalog of 100,000 products (SQLite, the local mode).

Reported in the test output: precision@5 (of the first five results, the share that is relevant; a query with
fewer than five relevant products is measured against that many) and the share of queries with a relevant
product in the top 3 (goal 95 %, asserted).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import insert, select

from gluta_kit.db import Database
from gluta_product.catalog.models import Product
from gluta_product.catalog.service import SearchQuery, search_products
from gluta_product.demo.generated import load_catalog
from gluta_product.demo.service import CATALOG, STYLES, SYNONYMS, _product_text
from gluta_product.synonym.models import SearchSynonym

pytestmark = pytest.mark.asyncio(loop_scope="module")

QUERIES = json.loads((Path(__file__).resolve().parents[1] / "relevance" / "queries.json").read_text("utf-8"))
GENERATED_PRODUCTS = 100_000
GOAL_TOP3 = 0.95


def measure(results: list[tuple[str, list[bool], int]]) -> tuple[float, float, list[str]]:
    """Return (precision@5, share with a relevant product in the top 3, queries that missed the top 3)."""
    precision = sum(sum(hits[:5]) / min(5, relevant) for _, hits, relevant in results) / len(results)
    top3 = [query for query, hits, _ in results if any(hits[:3])]
    return precision, len(top3) / len(results), [query for query, hits, _ in results if not any(hits[:3])]


def report(request: pytest.FixtureRequest, label: str, results: list[tuple[str, list[bool], int]]) -> float:
    """Print the figures to the terminal whatever the capture settings; return the top-3 share."""
    precision, top3, missed = measure(results)
    line = (f"relevance [{label}]: {len(results)} queries, precision@5 {precision:.1%}, "
            f"relevant in top 3 {top3:.1%} (goal {GOAL_TOP3:.0%})" + (f"; missed: {missed}" if missed else ""))
    # printed in the terminal summary by the product tests' conftest (whatever -s / -r say)
    request.config.gluta_relevance_lines = [*getattr(request.config, "gluta_relevance_lines", []), line]  # type: ignore[attr-defined]
    return top3


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def demo_shop(tmp_path_factory: pytest.TempPathFactory, start_app: Any) -> AsyncIterator[Any]:
    """The demo catalog (without pictures) and the demo synonyms, created through the API."""
    async with start_app(tmp_path_factory.mktemp("demo-relevance")) as api:
        index = 0
        for type_name, items in CATALOG:
            type_id = await api.create_type(type_name)
            for name, _, material in items:
                description, content = _product_text(type_name, name, material)
                await api.create_product(type_id, name, description=description, content=content,
                                         styles=[STYLES[index % len(STYLES)]], price=9_900 + index * 1_000)
                index += 1
        synonyms = {"items": [{"term": t, "synonyms": s} for t, s in SYNONYMS.items()]}
        assert (await api.client.put("/synonyms", json=synonyms, headers=api.admin)).status_code == 200
        yield api


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def generated(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """The generated catalog of 100,000 products (names only), bulk-loaded with the service's own index code."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('generated-relevance') / 'product.db'}"
    await load_catalog(url, GENERATED_PRODUCTS, content=False, analyze=False)
    db = Database(url)
    async with db.write_engine.begin() as conn:
        await conn.execute(insert(SearchSynonym.__table__), [
            {"term": t, "synonym": s} for t, words in SYNONYMS.items() for s in words])
    try:
        yield db
    finally:
        await db.dispose()


async def test_demo_catalog(demo_shop: Any, request: pytest.FixtureRequest) -> None:
    results = []
    for case in QUERIES["demo"]:
        response = await demo_shop.client.get("/products/search", params={"keyword": case["query"], "size": 5})
        assert response.status_code == 200, response.text
        names = [item["name"] for item in response.json()["items"]]
        results.append((case["query"], [name in case["expect"] for name in names], len(case["expect"])))
    assert len(results) >= 60
    assert report(request, "demo catalog", results) >= GOAL_TOP3


async def test_generated_catalog_of_100000(generated: Database, request: pytest.FixtureRequest) -> None:
    async with generated.read_sessions() as session:
        names = dict((await session.execute(select(Product.id, Product.name))).all())
    assert len(names) == GENERATED_PRODUCTS

    def relevant(case: dict[str, Any]) -> set[int]:
        if "expect" in case:
            return set(case["expect"])
        if "expect_prefix" in case:
            return {i for i, name in names.items() if name.startswith(case["expect_prefix"])}
        words = set(case["expect_words"])
        return {i for i, name in names.items() if words <= set(name.lower().split())}

    results = []
    for case in QUERIES["generated"]:
        wanted = relevant(case)
        assert wanted, case
        async with generated.read_sessions() as session:
            page = await search_products(session, generated.dialect, SearchQuery(keyword=case["query"], size=5), None)
        results.append((case["query"], [item.product_id in wanted for item in page.items], len(wanted)))
    assert report(request, f"generated catalog of {GENERATED_PRODUCTS:,}", results) >= GOAL_TOP3
