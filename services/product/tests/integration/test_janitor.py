"""The janitor endpoint: rows soft-deleted past the retention go, with their files; nothing live is touched."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from gluta_kit.models import utcnow
from gluta_product.banner.models import Banner
from gluta_product.catalog.models import Product
from gluta_product.image.models import Image


def files(api: Any) -> set[str]:
    """Return the keys of the stored files: the local folder's paths, or the objects in the S3 bucket."""
    bucket = getattr(api, "bucket", None)
    if bucket is not None:
        return bucket.keys()
    root: Path = api.service.settings.data_dir / "images"
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


async def count(api: Any, model: Any) -> int:
    async with api.service.db.read_sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def key_of(api: Any, image_id: int) -> str:
    async with api.service.db.read_sessions() as session:
        return str(await session.scalar(select(Image.storage_key).where(Image.id == image_id)))


async def test_janitor_removes_old_soft_deleted_rows_and_their_files(storage_api: Any, png: Any) -> None:
    api = storage_api
    type_id = await api.create_type("상의")
    gone_images = [await api.upload(png((i, 1, 1))) for i in range(2)]
    gone = (await api.create_product(type_id, "old", image_ids=gone_images))["productId"]
    kept_images = [await api.upload(png((i, 2, 2))) for i in range(3)]
    kept = (await api.create_product(type_id, "live", image_ids=kept_images))["productId"]
    banner = (await api.client.post("/banners", files={"file": ("b.png", png((5, 5, 5)))},
                                    data={"linkUrl": "/x", "position": "1"}, headers=api.admin)).json()
    await api.client.delete(f"/products/{gone}", headers=api.admin)
    await api.client.delete(f"/banners/{banner['bannerId']}", headers=api.admin)
    edit = {"name": "live", "productTypeId": type_id, "unitPrice": 1, "quantity": 1, "imageIds": kept_images[:2]}
    assert (await api.client.put(f"/products/{kept}", json=edit, headers=api.admin)).status_code == 200
    # an inconsistency the janitor must survive: a soft-deleted image a live product still shows
    async with api.service.uow() as uow:
        await uow.session.execute(update(Image).where(Image.id == kept_images[0]).values(deleted_at=utcnow()))
        await uow.commit()
    # a file that vanished already is not an error
    banner_key = await key_of(api, int(banner["imageUrl"].rsplit("/", 1)[1]))
    assert await api.app.state.storage.delete(banner_key) == len(png((5, 5, 5)))
    before = files(api)
    assert len(before) == 5

    api.app.state.clock = lambda: utcnow() + timedelta(days=29)
    young = (await api.client.post("/internal/janitor/run", params={"olderThanDays": 30})).json()
    assert (young["found"], young["rowsRemoved"], young["filesRemoved"]) == (0, 0, 0)

    api.app.state.clock = lambda: utcnow() + timedelta(days=31)
    dry = await api.client.post("/internal/janitor/run", params={"olderThanDays": 30, "dryRun": "true"})
    assert dry.status_code == 200, dry.text
    # found: 1 product + 1 banner + 5 images (2 of the product, the banner's, the dropped one, the inconsistent one)
    assert dry.json()["found"] == 7 and dry.json()["dryRun"] is True
    assert dry.json()["rowsRemoved"] == 6 and dry.json()["filesRemoved"] == 3
    assert files(api) == before and await count(api, Product) == 2

    report = (await api.client.post("/internal/janitor/run", params={"olderThanDays": 30})).json()
    assert (report["found"], report["rowsRemoved"], report["filesRemoved"]) == (7, 6, 3)
    assert report["bytesFreed"] == sum(len(png((i, 1, 1))) for i in range(2)) + len(png((2, 2, 2)))
    assert files(api) == {await key_of(api, kept_images[0]), await key_of(api, kept_images[1])}
    assert (await count(api, Product), await count(api, Banner), await count(api, Image)) == (1, 0, 2)
    assert (await api.client.get(f"/products/{kept}")).status_code == 200

    again = (await api.client.post("/internal/janitor/run", params={"olderThanDays": 30})).json()
    assert (again["rowsRemoved"], again["filesRemoved"]) == (0, 0)


async def test_janitor_endpoint_is_internal(tmp_path: Path, start_app: Any) -> None:
    async with start_app(tmp_path, internal_token="s3cret") as api:
        url = "/internal/janitor/run"
        assert (await api.client.post(url)).status_code == 403
        assert (await api.client.post(url, headers=api.member(3))).status_code == 403
        assert (await api.client.post(url, headers={"X-Internal-Token": "s3cret"})).status_code == 200
        assert (await api.client.post(url, headers=api.admin)).status_code == 200
        assert (await api.client.post(url, params={"olderThanDays": -1}, headers=api.admin)).status_code == 422
