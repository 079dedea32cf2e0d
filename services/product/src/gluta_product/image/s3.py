"""The S3-compatible adapter of the image storage port, on obstore (Python bindings of Rust's object_store).

Imported only when `GLUTA_IMAGE_STORAGE_URL` is an `s3://` URL, so local mode never loads the client
(about 8 MiB of resident memory once imported; see the README). Works with AWS S3 and any S3-compatible
server (MinIO, Ceph RGW, Garage, SeaweedFS...) given by `?endpoint=`; path-style requests.
Credentials: the two settings when both are set, else the usual AWS chain (AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, web identity, ECS, instance metadata) read by obstore.
The store's config holds the secret: never log or show `self._store.config`.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import obstore
from obstore.exceptions import BaseError
from obstore.store import S3Store

from gluta_kit.logging import get_logger
from gluta_product.image.storage import S3Location, StorageUnavailable

log = get_logger("gluta.product.image.s3")

CHECK_SECONDS = 2.0
READY_PREFIX = ".ready-probe"  # listed (never written) by the readiness check: empty, so the answer is small


def _failure(operation: str, key: str, exc: BaseException, *, quiet: bool = False) -> StorageUnavailable:
    """Return an OSError for a failed request; the client's long debug text is cut to its first line."""
    first_line = (str(exc).splitlines() or [""])[0][:300] or type(exc).__name__
    if not quiet:
        log.warning("image_storage.failed", operation=operation, key=key, error=first_line)
    return StorageUnavailable(f"image storage {operation} failed: {first_line}")


class S3ImageStorage:
    """Image objects in an S3 bucket (under an optional prefix): the same port as the local folder."""

    def __init__(self, location: S3Location, *, access_key_id: str | None = None,
                 secret_access_key: str | None = None) -> None:
        self.location = location
        config: dict[str, Any] = {}
        if location.endpoint:
            config["endpoint"] = location.endpoint
        if location.region:
            config["region"] = location.region
        if access_key_id and secret_access_key:
            config["access_key_id"] = access_key_id
            config["secret_access_key"] = secret_access_key
        client: dict[str, Any] = {"connect_timeout": "3s", "timeout": "30s"}
        if location.endpoint and location.endpoint.startswith("http://"):
            client["allow_http"] = True
        self._store = S3Store(location.bucket, prefix=location.prefix or None, config=config,  # type: ignore[arg-type]
                              client_options=client,  # type: ignore[arg-type]
                              retry_config={"max_retries": 3, "retry_timeout": timedelta(seconds=10),
                                            "backoff": {"init_backoff": timedelta(milliseconds=100),
                                                        "max_backoff": timedelta(seconds=2), "base": 2}})

    def __repr__(self) -> str:  # never the store's config: it holds the secret key
        where = f"{self.location.bucket}/{self.location.prefix}".rstrip("/")
        return f"S3ImageStorage(s3://{where}, endpoint={self.location.endpoint or 'AWS'})"

    @staticmethod
    def _check_key(key: str) -> str:
        if not key or key.startswith("/") or any(part in {"", ".", ".."} for part in key.split("/")):
            raise ValueError(f"bad storage key: {key!r}")
        return key

    async def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key` (one PUT: S3 makes it visible whole or not at all)."""
        try:
            await obstore.put_async(self._store, self._check_key(key), data)
        except BaseError as exc:
            raise _failure("put", key, exc) from None

    async def read(self, key: str) -> bytes | None:
        """Return the object's bytes, or None when there is no such object."""
        try:
            result = await obstore.get_async(self._store, self._check_key(key))
            return bytes(await result.bytes_async())
        except FileNotFoundError:  # obstore's NotFoundError is one
            return None
        except BaseError as exc:
            raise _failure("read", key, exc) from None

    async def size(self, key: str) -> int | None:
        """Return the object's size, or None when it is missing."""
        try:
            meta = await obstore.head_async(self._store, self._check_key(key))
        except FileNotFoundError:
            return None
        except BaseError as exc:
            raise _failure("head", key, exc) from None
        return int(meta["size"])

    async def delete(self, key: str) -> int:
        """Remove the object; return the bytes freed (0 when it was already gone: S3 deletes are idempotent)."""
        size = await self.size(key)
        if size is None:
            return 0
        try:
            await obstore.delete_async(self._store, key)
        except FileNotFoundError:
            return 0
        except BaseError as exc:
            raise _failure("delete", key, exc) from None
        return size

    async def check(self) -> None:
        """Raise StorageUnavailable unless the bucket answers a listing (reachable, exists, credentials accepted).

        Bounded by CHECK_SECONDS: the client's retries would outlast a readiness probe (3 s in deploy/k8s).
        """
        timeout = CHECK_SECONDS
        try:
            async with asyncio.timeout(timeout):
                await obstore.list_with_delimiter_async(self._store, prefix=READY_PREFIX)
        except TimeoutError:
            raise StorageUnavailable(f"image storage did not answer within {timeout:g} s") from None
        except (BaseError, OSError) as exc:
            raise _failure("check", READY_PREFIX, exc, quiet=True) from None
