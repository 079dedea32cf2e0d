"""Where requests go: the live instances of each service, from discovery, never waited for once known."""

from __future__ import annotations

import asyncio
import time

from gluta_kit.http import Instances
from gluta_kit.logging import get_logger

log = get_logger("gluta.gateway.upstream")


class LiveInstances(Instances):
    """The kit's round-robin instance list, refreshed in the background.

    The kit's `Instances` asks discovery again when its cached list is older than the TTL, in the
    request that notices it (and in every request that notices it at the same time). The gateway
    answers from the list it has and refreshes it in one background lookup per service instead, so
    no proxied request waits for discovery except the very first one of a service.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lookups: dict[str, asyncio.Task[list[str]]] = {}

    async def urls(self, service: str) -> list[str]:
        """Return the known live instances of `service`, refreshing a stale list in the background."""
        if service in self.static:
            return self.static[service]
        cached = self._cache.get(service)
        if cached is None:
            return await asyncio.shield(self._lookup(service))
        if time.monotonic() - cached[0] >= self.ttl:
            self._lookup(service)
        return cached[1]

    async def fresh_urls(self, service: str) -> list[str]:
        """Return the live instances, asking discovery first when the known list is older than the TTL."""
        if service in self.static:
            return self.static[service]
        cached = self._cache.get(service)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        return await asyncio.shield(self._lookup(service))

    def refresh_soon(self, service: str) -> None:
        """Ask discovery again in the background (after an instance failed to answer)."""
        if service not in self.static and self.discovery_url:
            self._lookup(service, force=True)

    def _lookup(self, service: str, force: bool = False) -> asyncio.Task[list[str]]:
        task = self._lookups.get(service)
        if task is None:
            cached = self._cache.get(service)
            if force and cached is not None:
                self._cache[service] = (float("-inf"), cached[1])  # stale: the kit asks discovery again
            task = asyncio.get_running_loop().create_task(Instances.urls(self, service))
            self._lookups[service] = task
            task.add_done_callback(lambda done: self._lookup_done(service, done))
        return task

    def _lookup_done(self, service: str, task: asyncio.Task[list[str]]) -> None:
        self._lookups.pop(service, None)
        if not task.cancelled() and task.exception() is not None:
            log.warning("discovery.lookup_failed", service=service, error=repr(task.exception()))

    async def aclose(self) -> None:
        """Stop background lookups and close the discovery connection."""
        for task in list(self._lookups.values()):
            task.cancel()
        await super().aclose()
