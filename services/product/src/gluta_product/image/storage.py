"""The image storage port, its local-folder adapter, and the choice of adapter by URL.

Every upload gets its own key (`ab/ab12....png`); an image row owns its file. The S3-compatible adapter
lives in `image/s3.py` and is imported only when an `s3://` URL is configured (its client library is
never loaded in local mode: idle memory).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlparse

S3_URL_FORM = "s3://BUCKET[/PREFIX][?endpoint=http://HOST:PORT&region=REGION]"
S3_URL_OPTIONS = {"endpoint", "region"}


class ImageStorage(Protocol):
    """Where image bytes live."""

    async def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key`."""

    async def read(self, key: str) -> bytes | None:
        """Return the bytes under `key`, or None when there is no such file."""

    async def delete(self, key: str) -> int:
        """Remove the file under `key`; return the bytes freed (0 when it was already gone)."""

    async def size(self, key: str) -> int | None:
        """Return the size of the file under `key`, or None when it is missing."""


class StorageUnavailable(OSError):
    """The storage could not do what was asked (unreachable, refused, failed); the file may be fine."""


class LocalImageStorage:
    """Image files in a local folder (a shared volume in production)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage key escapes the image folder: {key!r}")
        return path

    def _put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, key, data)

    def _read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    async def read(self, key: str) -> bytes | None:
        return await asyncio.to_thread(self._read, key)

    def _delete(self, key: str) -> int:
        path = self._path(key)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    async def delete(self, key: str) -> int:
        return await asyncio.to_thread(self._delete, key)

    async def size(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self._path(key).stat)).st_size
        except FileNotFoundError:
            return None


@dataclass(frozen=True)
class S3Location:
    """Where images live in an S3-compatible store, as parsed from `s3://bucket/prefix?endpoint=...`."""

    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None


def parse_s3_url(url: str) -> S3Location:
    """Parse `s3://bucket/prefix?endpoint=...&region=...`; raise ValueError with a clear message when bad.

    Credentials never go in the URL (it is configuration, shown and logged): they come from
    `GLUTA_IMAGE_STORAGE_ACCESS_KEY_ID`/`..._SECRET_ACCESS_KEY` or the usual AWS variables and roles.
    """
    parsed = urlparse(url)
    if parsed.scheme != "s3":
        raise ValueError(f"an S3 image storage URL starts with s3://, the form is {S3_URL_FORM}")
    if "@" in parsed.netloc or parsed.password is not None:
        raise ValueError("the image storage URL must not hold credentials: set GLUTA_IMAGE_STORAGE_ACCESS_KEY_ID "
                         "and GLUTA_IMAGE_STORAGE_SECRET_ACCESS_KEY (or the AWS_* variables) instead")
    bucket = parsed.netloc
    if not (3 <= len(bucket) <= 63) or not all(c.islower() or c.isdigit() or c in ".-" for c in bucket) \
            or not bucket[0].isalnum() or not bucket[-1].isalnum():
        raise ValueError(f"{bucket!r} is not a valid bucket name (3-63 lower-case letters, digits, '.' or '-'); "
                         f"the form is {S3_URL_FORM}")
    prefix = parsed.path.strip("/")
    if any(part in {"", ".", ".."} for part in prefix.split("/")) and prefix:
        raise ValueError(f"the image storage prefix {prefix!r} has an empty, '.' or '..' segment")
    try:
        options = parse_qs(parsed.query, strict_parsing=bool(parsed.query), max_num_fields=20)
    except ValueError as exc:
        raise ValueError(f"the image storage URL's options do not parse ({exc}); the form is {S3_URL_FORM}") from None
    unknown = sorted(set(options) - S3_URL_OPTIONS)
    if unknown:
        raise ValueError(f"unknown image storage URL option(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(S3_URL_OPTIONS))}")
    if any(len(values) > 1 for values in options.values()):
        raise ValueError("each image storage URL option may be given once")
    endpoint = options.get("endpoint", [None])[0]
    if endpoint is not None:
        target = urlparse(endpoint)
        if "@" in target.netloc:
            raise ValueError("the image storage endpoint must not hold credentials: set "
                             "GLUTA_IMAGE_STORAGE_ACCESS_KEY_ID and GLUTA_IMAGE_STORAGE_SECRET_ACCESS_KEY instead")
        if target.scheme not in {"http", "https"} or not target.hostname or target.path not in {"", "/"} \
                or target.query or target.fragment:
            raise ValueError(f"the image storage endpoint must be http(s)://HOST[:PORT], got {endpoint!r}")
        try:
            target.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise ValueError(f"the image storage endpoint has a bad port: {endpoint!r}") from None
        endpoint = endpoint.rstrip("/")
    region = options.get("region", [None])[0]
    if region is not None and not region.replace("-", "").isalnum():
        raise ValueError(f"{region!r} is not a region name")
    return S3Location(bucket=bucket, prefix=prefix, endpoint=endpoint, region=region)


def check_storage_url(url: str | None) -> None:
    """Raise ValueError when the image storage URL is not one an adapter accepts (no I/O, no client import)."""
    if not url:
        return
    scheme = urlparse(url).scheme
    if scheme == "file":
        parsed = urlparse(url)
        if parsed.netloc not in {"", "localhost"} or not parsed.path.startswith("/"):
            raise ValueError("a file:// image storage URL needs an absolute path: file:///abs/path")
        return
    if scheme == "s3":
        parse_s3_url(url)
        return
    raise ValueError(f"unsupported image storage URL scheme {scheme + '://' if scheme else '(none)'}: use "
                     f"file:///abs/path or {S3_URL_FORM}")


def storage_from_url(url: str | None, data_dir: Path, *, access_key_id: str | None = None,
                     secret_access_key: str | None = None) -> ImageStorage:
    """Choose the storage adapter from configuration: a local folder by default or by `file://`, S3 by `s3://`."""
    check_storage_url(url)
    if not url:
        return LocalImageStorage(Path(data_dir) / "images")
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalImageStorage(Path(parsed.path))
    from gluta_product.image.s3 import S3ImageStorage  # the S3 client library loads only here

    return S3ImageStorage(parse_s3_url(url), access_key_id=access_key_id, secret_access_key=secret_access_key)
