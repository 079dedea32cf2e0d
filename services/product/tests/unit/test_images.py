"""Images are recognised by their bytes, and limited in size."""

import io

import pytest
from PIL import Image

from gluta_product.image.exceptions import ImageTooLarge, UnsupportedMedia
from gluta_product.image.service import ImageLimits, check_image
from gluta_product.image.storage import LocalImageStorage, storage_from_url


def encoded(fmt: str, size: tuple[int, int] = (4, 4)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "content_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"),
                                                    ("WEBP", "image/webp"), ("GIF", "image/gif")])
def test_supported_formats_are_recognised(fmt: str, content_type: str) -> None:
    checked = check_image(encoded(fmt), ImageLimits())
    assert checked.content_type == content_type
    assert (checked.width, checked.height) == (4, 4)


@pytest.mark.parametrize("data", [b"", b"hello, I am text", encoded("BMP"), encoded("PNG")[:30]])
def test_anything_else_is_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedMedia):
        check_image(data, ImageLimits())


def test_too_many_bytes_or_pixels_is_too_large() -> None:
    with pytest.raises(ImageTooLarge):
        check_image(encoded("PNG"), ImageLimits(max_bytes=10))
    with pytest.raises(ImageTooLarge):
        check_image(encoded("PNG", (200, 200)), ImageLimits(max_pixels=10_000))


async def test_local_storage_round_trip(tmp_path) -> None:
    storage = LocalImageStorage(tmp_path)
    await storage.put("ab/file.png", b"1234")
    assert await storage.read("ab/file.png") == b"1234"
    assert await storage.size("ab/file.png") == 4
    assert await storage.delete("ab/file.png") == 4
    assert await storage.delete("ab/file.png") == 0  # a missing file is not an error
    assert await storage.read("ab/file.png") is None
    with pytest.raises(ValueError):
        await storage.put("../escape.png", b"x")


def test_storage_is_chosen_by_url(tmp_path) -> None:
    assert isinstance(storage_from_url(None, tmp_path), LocalImageStorage)
    assert storage_from_url(f"file://{tmp_path}/pics", tmp_path).root == tmp_path / "pics"
    for bad in ("s3://b/images", "gs://bucket/images", "file://relative/path"):
        with pytest.raises(ValueError):
            storage_from_url(bad, tmp_path)
