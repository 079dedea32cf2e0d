"""Demo data: only in demo mode, only into an empty catalog, once, through the service's own code."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from gluta_product.demo import service as demo
from gluta_product.demo.service import seed_demo_data


async def test_demo_catalog_has_real_images_varied_products_and_banners(api: Any) -> None:
    # Seeded directly: the full catalog takes seconds to draw, longer than a test's startup window.
    assert await seed_demo_data(api.service, api.app.state.storage) >= 40
    page = (await api.client.get("/products/search", params={"size": 100})).json()
    assert page["total"] >= 40
    items = page["items"]
    assert len({p["productType"]["type"] for p in items}) >= 7
    assert len({s for p in items for s in p["productStyles"]}) >= 6
    assert any(p["quantity"] == 0 for p in items) and any(p["quantity"] == 1 for p in items)
    assert any(p["name"].isascii() for p in items) and any(not p["name"].isascii() for p in items)
    assert len({p["unitPrice"] for p in items}) > 20
    assert (await api.client.get("/products/search", params={"keyword": "니트"})).json()["total"] >= 3
    thumbs = set()
    for product in items[:5]:
        response = await api.client.get(product["thumbnailUrl"].removeprefix("/api/product-service"))
        assert Image.open(io.BytesIO(response.content)).size == (600, 600)
        thumbs.add(response.content)
    assert len(thumbs) == 5  # a distinct picture per product
    assert len((await api.client.get("/banners")).json()) == 5
    assert len(await api.outbox("gluta.product.product-changed")) == page["total"]  # announced like any product
    assert await seed_demo_data(api.service, api.app.state.storage) == 0  # never into a non-empty catalog


async def test_demo_mode_seeds_at_start_once(tmp_path: Path, start_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "CATALOG", demo.CATALOG[:2])  # a small catalog keeps startup short
    async with start_app(tmp_path, demo=True) as api:
        total = (await api.client.get("/products/search")).json()["total"]
        assert total == sum(len(items) for _, items in demo.CATALOG[:2])
        assert len((await api.client.get("/banners")).json()) == 5
    async with start_app(tmp_path, demo=True) as api:  # a restart adds nothing
        assert (await api.client.get("/products/search")).json()["total"] == total
        assert len((await api.client.get("/banners")).json()) == 5


async def test_no_demo_data_outside_demo_mode(api: Any) -> None:
    assert (await api.client.get("/products/search")).json()["total"] == 0
    assert (await api.client.get("/banners")).json() == []
