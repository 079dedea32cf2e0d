"""Registration with the discovery service: register at start, heartbeat, deregister at stop."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from gluta_kit.logging import get_logger

if TYPE_CHECKING:
    import httpx

log = get_logger("gluta.discovery")


class Registration:
    """Keep this instance registered while it runs; tolerate discovery being down."""

    def __init__(self, discovery_url: str | None, service: str, url: str, heartbeat_seconds: float = 5.0) -> None:
        self.discovery_url = discovery_url.rstrip("/") if discovery_url else None
        self.service = service
        self.url = url
        self.instance_id = f"{service}-{uuid.uuid4().hex[:8]}"
        self.heartbeat_seconds = heartbeat_seconds
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None  # made at start, only when there is a discovery to call

    def start(self) -> None:
        """Register now and heartbeat in the background."""
        if self.discovery_url:
            from gluta_kit.http import new_client

            self._client = new_client(timeout=2.0)
            self._task = asyncio.create_task(self._run(), name="discovery-heartbeat")

    async def _run(self) -> None:
        import httpx

        assert self._client is not None
        registered = False
        while True:
            try:
                if not registered:
                    await self._register()
                    registered = True
                else:
                    response = await self._client.put(
                        f"{self.discovery_url}/instances/{self.service}/{self.instance_id}/heartbeat")
                    if response.status_code == 404:  # discovery restarted or expired us: register again
                        registered = False
                        continue
                    response.raise_for_status()
            except httpx.HTTPError as exc:
                registered = False
                log.warning("discovery.unreachable", error=repr(exc))
            await asyncio.sleep(self.heartbeat_seconds if registered else 1.0)

    async def _register(self) -> None:
        assert self._client is not None
        response = await self._client.post(
            f"{self.discovery_url}/instances",
            json={"service": self.service, "instanceId": self.instance_id, "url": self.url},
        )
        response.raise_for_status()
        log.info("discovery.registered", instanceId=self.instance_id, url=self.url)

    async def stop(self) -> None:
        """Stop heartbeating and deregister."""
        if self._task:
            import httpx

            assert self._client is not None
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            try:
                await self._client.delete(f"{self.discovery_url}/instances/{self.service}/{self.instance_id}")
            except httpx.HTTPError:
                pass
        if self._client is not None:
            await self._client.aclose()
