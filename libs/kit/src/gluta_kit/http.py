"""Typed HTTP clients between services: discovery lookup, timeouts, retries on another instance, a breaker."""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gluta_kit.errors import ServiceUnavailable
from gluta_kit.logging import get_logger
from gluta_kit.tracing import inject

if TYPE_CHECKING:  # httpx loads when a client is first made (discovery never makes one: memory)
    import ssl

    import httpx

log = get_logger("gluta.http")

IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The one TLS context of the process's HTTP clients (httpx's default: certifi's CAs, or $SSL_CERT_FILE /
    $SSL_CERT_DIR). Each httpx client would otherwise load the CA bundle again: about 0.8 MB per client."""
    import httpx

    return httpx.create_ssl_context()


def new_client(**kwargs: Any) -> httpx.AsyncClient:
    """An httpx.AsyncClient on the shared TLS context (`verify` may still be given)."""
    import httpx

    kwargs.setdefault("verify", tls_context())
    return httpx.AsyncClient(**kwargs)


class Instances:
    """Where each service's live instances are: asked of discovery, cached briefly, balanced round-robin."""

    def __init__(self, discovery_url: str | None, static: Mapping[str, list[str]] | None = None,
                 ttl_seconds: float = 2.0, client: httpx.AsyncClient | None = None) -> None:
        self.discovery_url = discovery_url.rstrip("/") if discovery_url else None
        self.static = {k: list(v) for k, v in (static or {}).items()}
        self.ttl = ttl_seconds
        self._own_client = client
        self._cache: dict[str, tuple[float, list[str]]] = {}
        self._counters: dict[str, itertools.count[int]] = {}
        self._bad: dict[str, float] = {}

    async def urls(self, service: str) -> list[str]:
        """Return the base URLs of the live instances of `service` (possibly stale by `ttl`)."""
        if service in self.static:
            return self.static[service]
        cached = self._cache.get(service)
        now = time.monotonic()
        if cached and now - cached[0] < self.ttl:
            return cached[1]
        if not self.discovery_url:
            return []
        import httpx

        try:
            response = await self._client.get(f"{self.discovery_url}/instances/{service}")
            response.raise_for_status()
            urls = [item["url"] for item in response.json() if item.get("status", "UP") == "UP"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            log.warning("discovery.lookup_failed", service=service, error=repr(exc))
            return cached[1] if cached else []
        self._cache[service] = (now, urls)
        return urls

    @property
    def _client(self) -> httpx.AsyncClient:
        if self._own_client is None:
            self._own_client = new_client(timeout=2.0)
        return self._own_client

    async def ordered(self, service: str) -> list[str]:
        """Return the instances starting at the next one in round-robin order, known-bad ones last."""
        urls = await self.urls(service)
        if not urls:
            return []
        start = next(self._counters.setdefault(service, itertools.count())) % len(urls)
        rotated = urls[start:] + urls[:start]
        now = time.monotonic()
        good = [u for u in rotated if self._bad.get(u, 0) < now]
        bad = [u for u in rotated if self._bad.get(u, 0) >= now]
        return good + bad

    def mark_bad(self, url: str, seconds: float = 5.0) -> None:
        """Skip an instance that just failed to answer for a few seconds."""
        self._bad[url] = time.monotonic() + seconds

    def forget(self, service: str) -> None:
        """Drop the cached list of a service."""
        self._cache.pop(service, None)

    async def aclose(self) -> None:
        """Close the discovery connection."""
        if self._own_client is not None:
            await self._own_client.aclose()


@dataclass
class CircuitBreaker:
    """Open after `threshold` consecutive failures; let one trial through after `reset_seconds`."""

    threshold: int = 5
    reset_seconds: float = 10.0
    failures: int = 0
    opened_at: float | None = None
    _trial: bool = field(default=False, repr=False)

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if time.monotonic() - self.opened_at >= self.reset_seconds:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._trial:
            self._trial = True
            return True
        return False

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._trial = False

    def failure(self) -> None:
        self.failures += 1
        self._trial = False
        if self.failures >= self.threshold:
            self.opened_at = time.monotonic()


class ServiceClient:
    """Call one service by name: resolve instances, time out, retry idempotent calls elsewhere, break."""

    def __init__(self, service: str, instances: Instances, *, timeout: float = 5.0, retries: int = 2,
                 breaker: CircuitBreaker | None = None, headers: Mapping[str, str] | None = None,
                 client: httpx.AsyncClient | None = None) -> None:
        self.service = service
        self.instances = instances
        self.timeout = timeout
        self.retries = retries
        self.breaker = breaker or CircuitBreaker()
        self.headers = dict(headers or {})
        import httpx

        self._client = client or new_client(timeout=timeout, limits=httpx.Limits(max_connections=200))

    async def request(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
                      headers: Mapping[str, str] | None = None) -> httpx.Response:
        """Send a request to some live instance; raise ServiceUnavailable when none answers."""
        if not self.breaker.allow():
            raise ServiceUnavailable(f"{self.service} is unavailable (circuit open)")
        urls = await self.instances.ordered(self.service)
        if not urls:
            self.breaker.failure()
            raise ServiceUnavailable(f"no live instance of {self.service}")
        attempts = 1 + (self.retries if method.upper() in IDEMPOTENT else 0)
        send_headers = inject({**self.headers, **(headers or {})})
        import httpx

        last: Exception | None = None
        for url in itertools.islice(itertools.cycle(urls), attempts):
            try:
                response = await self._client.request(method, f"{url}{path}", json=json, params=params,
                                                      headers=send_headers, timeout=self.timeout)
            except (TimeoutError, httpx.TransportError) as exc:
                last = exc
                self.instances.mark_bad(url)
                self.instances.forget(self.service)
                continue
            if response.status_code >= 500 and method.upper() in IDEMPOTENT:
                last = RuntimeError(f"{self.service} answered {response.status_code}")
                continue
            self.breaker.success()
            return response
        self.breaker.failure()
        log.warning("http.call_failed", service=self.service, path=path, error=repr(last))
        raise ServiceUnavailable(f"{self.service} did not answer: {last!r}")

    async def get_json(self, path: str, **kwargs: Any) -> Any:
        """GET and decode JSON, raising ServiceUnavailable on any non-2xx answer."""
        response = await self.request("GET", path, **kwargs)
        if response.status_code >= 400:
            raise ServiceUnavailable(f"{self.service} answered {response.status_code} for {path}")
        return response.json()

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()
