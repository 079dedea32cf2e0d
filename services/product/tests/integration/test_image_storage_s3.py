"""Images in an S3-compatible bucket: the product API against moto's S3 server over real HTTP.

The core image and janitor tests also run on S3 (the `storage_api` fixture); these check what only
S3 has: the object really is in the bucket, readiness asks the bucket, an outage is a 503 (never a
500) and keeps the janitor's rows, bad URLs stop the start, and local mode never loads the client.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from gluta_kit.models import utcnow
from gluta_kit.testing import make_settings
from gluta_product.image.models import Image
from gluta_product.image.s3 import S3ImageStorage
from gluta_product.image.storage import LocalImageStorage, parse_s3_url
from gluta_product.settings import ProductSettings


async def key_of(api: Any, image_id: int) -> str:
    async with api.service.db.read_sessions() as session:
        return str(await session.scalar(select(Image.storage_key).where(Image.id == image_id)))


async def test_upload_puts_the_object_in_the_bucket_and_serves_it_back(tmp_path: Path, start_app: Any,
                                                                       s3_bucket: Any, png: Any) -> None:
    async with start_app(tmp_path, **s3_bucket.settings()) as api:
        assert isinstance(api.app.state.storage, S3ImageStorage)
        data = png((10, 20, 30), size=(32, 16))
        response = await api.client.post("/images", files={"file": ("a.png", data)}, headers=api.admin)
        assert response.status_code == 201, response.text
        image_id = response.json()["imageId"]
        key = await key_of(api, image_id)
        assert s3_bucket.keys() == {key}
        assert s3_bucket.get(key) == data  # read back by another client than the app's
        assert not (tmp_path / "images").exists()  # nothing went to the local folder

        served = await api.client.get(f"/images/{image_id}")
        assert (served.status_code, served.content, served.headers["content-type"]) == (200, data, "image/png")
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        etag = served.headers["etag"]
        again = await api.client.get(f"/images/{image_id}", headers={"If-None-Match": f'"x", {etag}'})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)

        # an object removed behind the service's back is a 404, as a missing file is
        s3_bucket.s3.delete_object(Bucket=s3_bucket.name, Key=f"{s3_bucket.prefix}/{key}")
        gone = await api.client.get(f"/images/{image_id}")
        assert (gone.status_code, gone.json()["code"]) == (404, "IMAGE_NOT_FOUND")


async def test_janitor_removes_the_objects_of_old_soft_deleted_images(tmp_path: Path, start_app: Any,
                                                                       s3_bucket: Any, png: Any) -> None:
    async with start_app(tmp_path, **s3_bucket.settings()) as api:
        type_id = await api.create_type("상의")
        old = [await api.upload(png((i, 9, 9))) for i in range(2)]
        live = await api.upload(png((7, 7, 7)))
        product = (await api.create_product(type_id, "old", image_ids=old))["productId"]
        await api.create_product(type_id, "live", image_ids=[live])
        assert (await api.client.delete(f"/products/{product}", headers=api.admin)).status_code == 204
        assert len(s3_bucket.keys()) == 3

        api.app.state.clock = lambda: utcnow() + timedelta(days=31)
        dry = (await api.client.post("/internal/janitor/run", params={"dryRun": "true"})).json()
        assert (dry["filesRemoved"], dry["bytesFreed"]) == (2, sum(len(png((i, 9, 9))) for i in range(2)))
        assert len(s3_bucket.keys()) == 3
        report = (await api.client.post("/internal/janitor/run")).json()
        assert (report["filesRemoved"], report["rowsRemoved"]) == (2, 3)
        assert s3_bucket.keys() == {await key_of(api, live)}


async def test_ready_asks_the_bucket(tmp_path: Path, start_app: Any, s3_bucket: Any, s3_server: Any) -> None:
    async with start_app(tmp_path, **s3_bucket.settings()) as api:
        ready = await api.client.get("/ready")
        assert ready.status_code == 200 and ready.json()["checks"]["imageStorage"] == "ok"
    missing = {**s3_bucket.settings(),
               "image_storage_url": f"s3://no-such-bucket-here/images?endpoint={s3_server.endpoint}"}
    async with start_app(tmp_path / "missing", **missing) as api:
        ready = await api.client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["imageStorage"].startswith("down")
        assert "gluta-test-secret" not in ready.text


async def test_local_mode_ready_has_no_storage_check(api: Any) -> None:
    assert "imageStorage" not in (await api.client.get("/ready")).json()["checks"]


async def test_an_outage_is_503_and_the_janitor_keeps_the_rows(tmp_path: Path, start_app: Any, png: Any,
                                                               own_s3_server: Any, bucket_on: Any) -> None:
    server = own_s3_server
    async with start_app(tmp_path, **bucket_on(server).settings()) as api:
        type_id = await api.create_type("상의")
        image_id = await api.upload(png())
        live_image = await api.upload(png((1, 1, 1)))
        product = (await api.create_product(type_id, "p", image_ids=[image_id]))["productId"]
        await api.create_product(type_id, "live", image_ids=[live_image])
        await api.client.delete(f"/products/{product}", headers=api.admin)
        server.stop()

        upload = await api.client.post("/images", files={"file": ("a.png", png())}, headers=api.admin)
        assert (upload.status_code, upload.json()["code"]) == (503, "IMAGE_STORAGE_UNAVAILABLE")
        served = await api.client.get(f"/images/{live_image}")
        assert (served.status_code, served.json()["code"]) == (503, "IMAGE_STORAGE_UNAVAILABLE")
        assert (await api.client.get("/ready")).status_code == 503

        api.app.state.clock = lambda: utcnow() + timedelta(days=31)
        dry = await api.client.post("/internal/janitor/run", params={"dryRun": "true"})
        assert (dry.status_code, dry.json()["code"]) == (503, "IMAGE_STORAGE_UNAVAILABLE")
        report = (await api.client.post("/internal/janitor/run")).json()
        assert (report["filesRemoved"], report["rowsRemoved"]) == (0, 1)  # the product goes, its image waits
        async with api.service.db.read_sessions() as session:
            assert await session.scalar(select(Image.id).where(Image.id == image_id)) == image_id


@pytest.mark.parametrize(("url", "reason"), [
    ("s3://", "not a valid bucket name"),
    ("s3://Bad_Bucket/images", "not a valid bucket name"),
    ("s3://gluta-images/images?endpoint=ftp://minio:9000", "must be http(s)://HOST[:PORT]"),
    ("s3://gluta-images/images?endpoint=http://minio:notaport", "bad port"),
    ("s3://gluta-images/images?endpoint=http://minio:9000&regoin=eu", "unknown image storage URL option(s) regoin"),
    ("s3://gluta-images/a/../b", "'..'"),
    ("s3://AKIA:topsecret@gluta-images/images", "must not hold credentials"),
    ("s3://gluta-images/i?endpoint=http://AKIA:topsecret@minio:9000", "must not hold credentials"),
    ("gs://gluta-images/images", "unsupported image storage URL scheme gs://"),
    ("file://relative/images", "absolute path"),
])
def test_bad_storage_urls_stop_the_start_with_the_reason(tmp_path: Path, url: str, reason: str) -> None:
    with pytest.raises(ValidationError) as refused:
        make_settings(ProductSettings, tmp_path, image_storage_url=url)
    assert reason in str(refused.value)
    assert "topsecret" not in str(refused.value)  # neither the reason nor pydantic echoes the value


def test_one_key_without_the_other_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="set both GLUTA_IMAGE_STORAGE_ACCESS_KEY_ID") as refused:
        make_settings(ProductSettings, tmp_path, image_storage_secret_access_key="topsecret")
    assert "topsecret" not in str(refused.value)
    empty = make_settings(ProductSettings, tmp_path, image_storage_access_key_id="", image_storage_secret_access_key="")
    assert not empty.image_storage_access_key_id  # compose's defaults: both empty = the AWS chain


def test_a_bad_url_makes_the_process_exit_at_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLUTA_", "AWS_"))}
    env.update(GLUTA_IMAGE_STORAGE_URL="s3://x/images", GLUTA_CONFIG_URL="", GLUTA_DISCOVERY_URL="",
               GLUTA_DATA_DIR=str(tmp_path), GLUTA_PORT="0")
    done = subprocess.run([sys.executable, "-m", "gluta_product"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0
    assert "image_storage_url" in done.stderr and "not a valid bucket name" in done.stderr


def test_url_forms() -> None:
    full = parse_s3_url("s3://gluta-images/shop/images?endpoint=http://minio:9000/&region=eu-west-1")
    assert (full.bucket, full.prefix, full.endpoint, full.region) == ("gluta-images", "shop/images",
                                                                      "http://minio:9000", "eu-west-1")
    aws = parse_s3_url("s3://gluta-images")
    assert (aws.prefix, aws.endpoint, aws.region) == ("", None, None)
    encoded = parse_s3_url("s3://gluta-images/p?endpoint=https%3A%2F%2Fs3.example.com")
    assert encoded.endpoint == "https://s3.example.com"


def test_local_mode_never_imports_the_s3_client(tmp_path: Path, s3_bucket: Any) -> None:
    """The S3 client library costs resident memory: it is loaded only when an s3:// URL is configured."""
    program = """
import sys
from pathlib import Path
from gluta_kit.testing import make_settings
from gluta_product.app import create_app
from gluta_product.settings import ProductSettings
for url in sys.argv[2:]:
    create_app(make_settings(ProductSettings, Path(sys.argv[1]), image_storage_url=url or None,
                             image_storage_access_key_id="k", image_storage_secret_access_key="s"))
    print(url or "default", "obstore" in sys.modules)
"""
    urls = [f"file://{tmp_path}/pics", "", s3_bucket.url]
    done = subprocess.run([sys.executable, "-c", program, str(tmp_path), *urls], capture_output=True, text=True,
                          timeout=60, check=True)
    loaded = [line.rsplit(" ", 1)[1] for line in done.stdout.strip().splitlines()[-3:]]
    assert loaded == ["False", "False", "True"], done.stdout + done.stderr


@pytest.fixture(params=["local", "s3"])
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "local":
        return LocalImageStorage(tmp_path)
    bucket = request.getfixturevalue("s3_bucket")
    return S3ImageStorage(parse_s3_url(bucket.url), access_key_id="k", secret_access_key="s")


async def test_both_adapters_keep_the_port_contract(adapter: Any) -> None:
    await adapter.put("ab/file.png", b"1234")
    assert await adapter.read("ab/file.png") == b"1234"
    assert await adapter.size("ab/file.png") == 4
    await adapter.put("ab/file.png", b"123456")  # a put replaces
    assert await adapter.read("ab/file.png") == b"123456"
    assert await adapter.delete("ab/file.png") == 6
    assert await adapter.delete("ab/file.png") == 0  # a missing file is not an error
    assert await adapter.read("ab/file.png") is None and await adapter.size("ab/file.png") is None
    with pytest.raises(ValueError):
        await adapter.put("../escape.png", b"x")


def test_the_adapter_never_shows_its_secret(s3_bucket: Any) -> None:
    storage = S3ImageStorage(parse_s3_url(s3_bucket.url), access_key_id="AKIDEXAMPLE", secret_access_key="topsecret")
    assert "topsecret" not in repr(storage) and "AKIDEXAMPLE" not in repr(storage)
    assert s3_bucket.name in repr(storage)
