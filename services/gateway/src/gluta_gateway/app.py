"""The API gateway: the only public API. Routing, token check, role policy, rate and body limits, docs."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gluta_gateway.docs import ApiDocs
from gluta_gateway.docs import routes as docs_routes
from gluta_gateway.policy import Policy
from gluta_gateway.proxy import Proxy, ProxyDispatch
from gluta_gateway.ratelimit import RateLimiter
from gluta_gateway.settings import GatewaySettings
from gluta_gateway.upstream import LiveInstances
from gluta_kit.logging import get_logger
from gluta_kit.service import Service

log = get_logger("gluta.gateway")

class Gateway:
    """The gateway's parts, built once per process and reached as `app.state.gateway`."""

    def __init__(self, service: Service, settings: GatewaySettings, policy: Policy | None = None) -> None:
        self.service = service
        self.settings = settings
        self.policy = policy or Policy()
        # the kit's instance list, refreshed in the background so no request waits for discovery
        service.instances = LiveInstances(settings.discovery_url, settings.static_instances,
                                          ttl_seconds=settings.discovery_cache_seconds)
        self.instances: LiveInstances = service.instances
        self.limiter = RateLimiter.from_settings(settings)
        self.proxy = Proxy(settings, self.policy, service.verifier, self.instances, self.limiter)
        self.docs = ApiDocs(service, self.policy, settings.routed_services, settings.docs_cache_seconds)

    async def start(self) -> None:
        """Connect the shared rate limiter (Redis), when there is one."""
        await self.limiter.start()

    async def stop(self) -> None:
        """Close the pooled upstream connections and the rate limiter's."""
        await self.proxy.pool.close()
        await self.limiter.stop()

    async def reload(self, changed: dict[str, Any]) -> None:
        """Apply reloaded settings: rate limits now; timeouts and body limits are read per request."""
        self.limiter.configure(self.settings)
        log.info("gateway.reloaded", changed=sorted(changed))

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Return whether every routed service has a live instance, with the count of each."""
        checks: dict[str, str] = {}
        missing: list[str] = []
        for name in self.settings.routed_services:
            urls = await self.instances.fresh_urls(name)
            if urls:
                checks[name] = f"{len(urls)} instance{'s' if len(urls) > 1 else ''}"
            else:
                checks[name] = "no live instance"
                missing.append(name)
        return not missing, {"status": "down" if missing else "ok", "missing": missing, "checks": checks}


async def ready(request: Request) -> Response:
    """200 when every routed service has a live instance in discovery; 503 naming the missing ones."""
    ok, body = await request.app.state.gateway.readiness()
    return Response(orjson.dumps(body), status_code=200 if ok else 503, media_type="application/json")


def create_app(settings: GatewaySettings) -> Starlette:
    """Build the gateway app (Starlette: its own routes are /ready and /docs; FastAPI would cost memory only)."""
    service = Service(settings, uses_bus=bool(settings.bus_url))  # the bus carries configuration refreshes
    gateway = Gateway(service, settings)
    service.track_revocations()  # a logged-out or withdrawn member's token is refused at the door within seconds
    service.on_start.append(gateway.start)
    service.on_stop.append(gateway.stop)
    service.on_reload.append(gateway.reload)
    app = service.create_starlette_app([Route("/ready", ready, methods=["GET"]), *docs_routes])
    app.state.gateway = gateway
    app.add_middleware(ProxyDispatch, proxy=gateway.proxy, metrics=service.metrics)  # /api/** skips the router
    return app
