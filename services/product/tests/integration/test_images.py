"""Image upload and download through the HTTP API."""

from __future__ import annotations

from typing import Any

import pytest


async def test_png_named_exe_is_accepted_as_png_and_served_with_cache_headers(storage_api: Any, png: Any) -> None:
    api = storage_api
    data = png()
    response = await api.client.post("/images", files={"file": ("virus.exe", data, "application/x-msdownload")},
                                     headers=api.admin)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["url"] == f"/api/product-service/images/{body['imageId']}"
    served = await api.client.get(f"/images/{body['imageId']}")
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["content-type"] == "image/png"
    assert "max-age" in served.headers["cache-control"]
    etag = served.headers["etag"]
    again = await api.client.get(f"/images/{body['imageId']}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    changed = await api.client.get(f"/images/{body['imageId']}", headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "GIF"])
async def test_other_supported_formats(storage_api: Any, png: Any, fmt: str) -> None:
    api = storage_api
    image_id = await api.upload(png(fmt=fmt), filename="picture.bin")
    served = await api.client.get(f"/images/{image_id}")
    assert served.headers["content-type"] == f"image/{fmt.lower()}"


@pytest.mark.parametrize(("name", "data"), [("photo.jpg", b"just some text, not a picture"),
                                            ("photo.png", b"GIF89a-but-not-really"), ("empty.png", b"")])
async def test_non_images_are_415_whatever_their_name(api: Any, name: str, data: bytes) -> None:
    response = await api.client.post("/images", files={"file": (name, data, "image/jpeg")}, headers=api.admin)
    assert response.status_code == 415
    assert response.json()["code"] == "UNSUPPORTED_MEDIA"


async def test_uploads_over_ten_mib_are_413(api: Any, png: Any) -> None:
    big = png() + b"\0" * (10 * 1024 * 1024)  # a PNG with trailing bytes, just over the limit
    response = await api.client.post("/images", files={"file": ("big.png", big)}, headers=api.admin)
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


async def test_upload_needs_a_file_field(api: Any) -> None:
    response = await api.client.post("/images", data={"other": "x"}, headers=api.admin)
    assert response.status_code == 422


async def test_unknown_image_is_404(storage_api: Any) -> None:
    response = await storage_api.client.get("/images/12345")
    assert (response.status_code, response.json()["code"]) == (404, "IMAGE_NOT_FOUND")
