"""The image storage port and its local-folder adapter.

Every upload gets its own key (`ab/ab12....png`); an image row owns its file.
An S3-compatible adapter would implement the same four methods;
it is not written yet because it cannot be tested honestly on the development machines (see README).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse


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


def storage_from_url(url: str | None, data_dir: Path) -> ImageStorage:
    """Choose the storage adapter from configuration: a local folder by default or by `file://` URL."""
    if not url:
        return LocalImageStorage(Path(data_dir) / "images")
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalImageStorage(Path(parsed.path))
    raise ValueError(f"unsupported image storage URL {url!r}: only file:// is built (S3 is a documented TODO)")
