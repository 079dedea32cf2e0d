"""Banners through the HTTP API."""

from __future__ import annotations

from typing import Any

import pytest


async def test_banner_create_update_delete(api: Any, png: Any) -> None:
    created = await api.client.post("/banners", files={"file": ("b.png", png((1, 2, 3)))},
                                    data={"linkUrl": "/products/3", "position": "2"}, headers=api.admin)
    assert created.status_code == 201, created.text
    banner = created.json()
    first = await api.client.post("/banners", files={"file": ("a.png", png((9, 9, 9)))},
                                  data={"linkUrl": "https://example.com/sale", "position": "1"}, headers=api.admin)
    listed = (await api.client.get("/banners")).json()
    assert [b["bannerId"] for b in listed] == [first.json()["bannerId"], banner["bannerId"]]
    old_image = banner["imageUrl"].rsplit("/", 1)[1]
    assert (await api.client.get(f"/images/{old_image}")).status_code == 200

    moved = await api.client.put(f"/banners/{banner['bannerId']}", data={"position": "0"}, headers=api.admin)
    assert moved.status_code == 200 and moved.json()["position"] == 0
    assert moved.json()["imageUrl"] == banner["imageUrl"] and moved.json()["linkUrl"] == "/products/3"
    replaced = await api.client.put(f"/banners/{banner['bannerId']}", files={"file": ("c.gif", png(fmt="GIF"))},
                                    data={"linkUrl": "/products/4"}, headers=api.admin)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["imageUrl"] != banner["imageUrl"] and replaced.json()["linkUrl"] == "/products/4"
    assert (await api.client.get(f"/images/{old_image}")).status_code == 404  # soft-deleted with the swap
    assert (await api.client.get(replaced.json()["imageUrl"].removeprefix("/api/product-service"))).status_code == 200

    assert (await api.client.delete(f"/banners/{banner['bannerId']}", headers=api.admin)).status_code == 204
    assert [b["bannerId"] for b in (await api.client.get("/banners")).json()] == [first.json()["bannerId"]]
    for method in ("PUT", "DELETE"):
        response = await api.client.request(method, f"/banners/{banner['bannerId']}", headers=api.admin)
        assert (response.status_code, response.json()["code"]) == (404, "BANNER_NOT_FOUND")


@pytest.mark.parametrize(("data", "file_bytes", "status"), [
    ({"linkUrl": "javascript:alert(1)", "position": "1"}, None, 422),
    ({"linkUrl": "//evil.example", "position": "1"}, None, 422),
    ({"linkUrl": "/x", "position": "first"}, None, 422),
    ({"linkUrl": "/x", "position": "-1"}, None, 422),
    ({"position": "1"}, None, 422),
    ({"linkUrl": "/x", "position": "1"}, b"not an image", 415),
])
async def test_bad_banner_input(api: Any, png: Any, data: dict[str, str], file_bytes: bytes | None,
                                status: int) -> None:
    response = await api.client.post("/banners", files={"file": ("b.png", file_bytes or png())}, data=data,
                                     headers=api.admin)
    assert response.status_code == status, response.text
