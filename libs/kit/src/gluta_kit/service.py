"""A service process: settings, database, bus, outbox relay, clients and the FastAPI app around them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gluta_contracts import ConfigRefreshed, TokensRevoked
from gluta_kit.discovery import Registration
from gluta_kit.errors import AppError, Forbidden, NotFound, install_error_handlers
from gluta_kit.http import Instances, ServiceClient
from gluta_kit.logging import get_logger, set_level, setup_logging
from gluta_kit.observability import Metrics, RequestContextMiddleware
from gluta_kit.settings import ServiceSettings, fetch_remote_config
from gluta_kit.tracing import setup_tracing

if TYPE_CHECKING:  # the database and bus stacks and FastAPI are imported only by services that use them (memory)
    from fastapi import APIRouter, FastAPI
    from starlette.applications import Starlette
    from starlette.routing import BaseRoute

    from gluta_kit.bus import Bus
    from gluta_kit.db import Database
    from gluta_kit.deadletter import DeadLetters
    from gluta_kit.relay import OutboxRelay
    from gluta_kit.revocation import RevocationSync, Source
    from gluta_kit.sqlite import SqliteFile
    from gluta_kit.tokens import TokenVerifier
    from gluta_kit.uow import UnitOfWork

log = get_logger("gluta.service")

Hook = Callable[[], Awaitable[None]]


class RedriveFailed(AppError):
    status, code, title = 409, "REDRIVE_FAILED", "The handler failed again"


class BadQuery(AppError):
    status, code, title = 422, "VALIDATION_ERROR", "Invalid query parameter"


class Service:
    """Everything one service process holds; the composition root builds it, tests pass other parts."""

    def __init__(self, settings: ServiceSettings, *, migrations: Path | str | None = None,
                 uses_bus: bool = True, bus: Bus | None = None, plain_sqlite: bool = False) -> None:
        """`plain_sqlite`: on a local SQLite file, hold the database as a `SqliteFile` (the standard library's
        sqlite3) instead of a SQLAlchemy `Database` — for services whose own code needs no more (memory)."""
        self.settings = settings
        self.name = type(settings).service_name
        setup_tracing(self.name)
        self.db: Database | SqliteFile | None = None
        if migrations is not None:
            url = settings.resolved_database_url
            from gluta_kit.sqlite import SqliteFile, sqlite_path

            if plain_sqlite and sqlite_path(url) is not None:
                self.db = SqliteFile(url)
            else:
                from gluta_kit.db import Database

                self.db = Database(url)
        self.migrations = migrations
        self.bus: Bus | None = bus
        if self.bus is None and uses_bus:
            from gluta_kit.bus import Bus

            self.bus = Bus(settings.bus_url, self.name, max_attempts=settings.consumer_max_attempts,
                           namespace=settings.bus_namespace, kafka_partitions=settings.kafka_partitions,
                           kafka_replication_factor=settings.kafka_replication_factor,
                           kafka_session_timeout_ms=settings.kafka_session_timeout_ms)
        self.dead_letters: DeadLetters | None = None
        self.relay: OutboxRelay | None = None
        if self.db and self.bus and not getattr(self.db, "plain", False):
            from gluta_kit.deadletter import DeadLetters
            from gluta_kit.relay import OutboxRelay

            self.dead_letters = DeadLetters(self.db, self.bus)
            self.bus.dead_letters = self.dead_letters.store
            self.relay = OutboxRelay(self.db, self.bus, batch_size=settings.outbox_batch_size)
        self.instances = Instances(settings.discovery_url, settings.static_instances)
        self._verifier: TokenVerifier | None = None
        self.registration = Registration(settings.discovery_url, self.name, settings.base_url,
                                         settings.heartbeat_seconds)
        self.metrics = Metrics(self.name)
        self.on_start: list[Hook] = []
        self.on_stop: list[Hook] = []
        self.on_reload: list[Callable[[dict[str, Any]], Awaitable[None]]] = []
        self._clients: dict[str, ServiceClient] = {}
        self.revocations: RevocationSync | None = None
        self._revocation_source: Source | None = None
        if self.bus:
            self.bus.broadcast(ConfigRefreshed.topic, self._on_config_refreshed)

    def track_revocations(self, source: Source | None = None) -> RevocationSync:
        """Make this instance refuse revoked access tokens within seconds, whoever revoked them where.

        `source` lists the revocations recorded since a moment; the default asks the user service. See
        `gluta_kit.revocation`. Call it while building the app, before the bus starts.
        """
        from gluta_kit.revocation import RevocationSync

        sync = RevocationSync(self, source, interval_seconds=self.settings.revocation_sync_seconds)
        if self.bus:
            self.bus.broadcast(TokensRevoked.topic, sync.on_broadcast)
        self.on_start.append(sync.start)
        self.on_stop.append(sync.stop)
        self.revocations = sync
        return sync

    def serve_revocations(self, source: Source) -> None:
        """Answer `GET /internal/revocations?since=` from `source` (the user service, which records them)."""
        self._revocation_source = source

    # --- parts --------------------------------------------------------------------------------
    @property
    def verifier(self) -> TokenVerifier:
        """The JWT verifier (keys from the user service's JWKS); made on first use: `gluta_kit.auth` brings
        FastAPI, which the Starlette services (discovery, config) do without."""
        if self._verifier is None:
            from gluta_kit.tokens import TokenVerifier

            self._verifier = TokenVerifier(self._fetch_jwks, issuer=self.settings.jwt_issuer,
                                           audience=self.settings.jwt_audience)
        return self._verifier

    @verifier.setter
    def verifier(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    def uow(self) -> UnitOfWork:
        """Return a new unit of work on this service's database."""
        from gluta_kit.uow import UnitOfWork

        assert self.db is not None and not getattr(self.db, "plain", False), f"{self.name} has no SQL database"
        return UnitOfWork(self.db)

    def client(self, service: str, **kwargs: Any) -> ServiceClient:
        """Return the shared client of another service."""
        if service not in self._clients:
            self._clients[service] = ServiceClient(service, self.instances,
                                                   timeout=kwargs.pop("timeout", self.settings.http_timeout_seconds),
                                                   **kwargs)
        return self._clients[service]

    async def _fetch_jwks(self) -> dict[str, Any]:
        if self.settings.jwks_url:
            import httpx

            async with httpx.AsyncClient(timeout=2.0) as client:
                response = await client.get(self.settings.jwks_url)
                response.raise_for_status()
                return response.json()
        return await self.client("user").get_json("/.well-known/jwks.json")

    async def _on_config_refreshed(self, body: bytes, headers: dict[str, str]) -> None:
        values, version = await asyncio.to_thread(
            fetch_remote_config, self.settings.config_url, self.name, self.settings.profile)
        if version is None:
            return
        changed = self.settings.apply_reload(values, version)
        if "log_level" in changed:
            set_level(self.settings.log_level)
        log.info("config.reloaded", version=version, changed=sorted(changed))
        for hook in self.on_reload:
            await hook(changed)

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Migrate, connect and start background work."""
        if self.db is not None and self.migrations is not None:
            await self.db.migrate(self.migrations, in_subprocess=self.settings.migrate_in_subprocess)
        if self.bus:
            await self._start_bus()
        if self.relay:
            self.relay.start()
        for hook in self.on_start:
            await hook()
        self.registration.start()
        if self.settings.trim_memory_after_start:
            _release_free_memory()
            _settle_collector()
        log.info("service.started", port=self.settings.port, configVersion=self.settings.config_version,
                 database=self.db.dialect if self.db else None, bus=self.bus.kind if self.bus else None)

    async def _start_bus(self) -> None:
        assert self.bus is not None
        for attempt in range(1, 31):
            try:
                await self.bus.start()
                return
            except Exception as exc:
                log.warning("bus.connect_failed", attempt=attempt, error=repr(exc))
                await asyncio.sleep(min(0.2 * attempt, 2.0))
        raise RuntimeError(f"could not connect to the bus at {self.bus.url}")

    async def stop(self) -> None:
        """Stop background work and close connections, in reverse order."""
        await self.registration.stop()
        for hook in reversed(self.on_stop):
            try:
                await hook()
            except Exception as exc:
                log.warning("service.stop_hook_failed", error=repr(exc))
        if self.relay:
            await self.relay.stop()
        if self.bus:
            await self.bus.stop()
        for client in self._clients.values():
            await client.aclose()
        await self.instances.aclose()
        if self.db:
            await self.db.dispose()
        log.info("service.stopped")

    async def readiness(self) -> dict[str, str]:
        """Check this service's own dependencies."""
        checks: dict[str, str] = {}
        if self.db:
            try:
                await self.db.ping()
                checks["database"] = "ok"
            except Exception as exc:
                checks["database"] = f"down: {exc!r}"[:200]
        if self.bus:
            checks["broker"] = "ok" if await self.bus.ping() else "down"
        return checks

    # --- the web application --------------------------------------------------------------------
    def _lifespan(self) -> Callable[[Any], Any]:
        service = self

        @asynccontextmanager
        async def lifespan(_: Any) -> AsyncIterator[None]:
            await service.start()
            try:
                yield
            finally:
                await service.stop()

        return lifespan

    def create_app(self, routers: Sequence[APIRouter] = (), *, title: str | None = None,
                   root_path_prefix: str = "", **fastapi_kwargs: Any) -> FastAPI:
        """Build the FastAPI app with the kit's handlers, middleware and operational routes."""
        from fastapi import FastAPI

        # The kit's middleware already makes the one server span per request and the metrics; FastAPI's own
        # telemetry would add a second span, operation spans and metrics to every request.
        fastapi_kwargs.setdefault("telemetry", {"tracing": False, "metrics": False, "logs": False,
                                                "operation_spans": False})
        app = FastAPI(title=title or f"gluta {self.name}", lifespan=self._lifespan(), **fastapi_kwargs)
        app.state.service = self
        app.state.verifier = self.verifier
        install_error_handlers(app)
        app.add_middleware(RequestContextMiddleware, metrics=self.metrics)
        for router in routers:
            app.include_router(router, prefix=root_path_prefix)
        app.include_router(self._operations_router())
        return app

    def create_starlette_app(self, routes: Sequence[BaseRoute] = ()) -> Starlette:
        """Build a Starlette app with the kit's handlers, middleware and operational routes, without FastAPI.

        For small internal services (discovery, config) whose few routes read and check their input
        themselves: FastAPI with its models and OpenAPI machinery costs about 6 MB of every process that
        imports it (memory goal). Such an app has no `/docs`.
        """
        from starlette.applications import Starlette

        app = Starlette(routes=[*routes, *self._operation_routes()], lifespan=self._lifespan())
        app.state.service = self
        install_error_handlers(app)
        app.add_middleware(RequestContextMiddleware, metrics=self.metrics)
        return app

    def _check_internal(self, request: Request) -> None:
        token = self.settings.internal_token
        if token and request.headers.get("x-internal-token") != token:
            raise Forbidden("internal endpoint")

    # The operational endpoints, once; `_operations_router` (FastAPI) and `_operation_routes` (Starlette) route them.
    async def _health(self) -> dict[str, str]:
        return {"status": "ok", "service": self.name}

    async def _ready(self) -> Response:
        checks = await self.readiness()
        ok = all(v == "ok" for v in checks.values())
        return Response(orjson.dumps({"status": "ok" if ok else "down", "checks": checks}),
                        status_code=200 if ok else 503, media_type="application/json")

    async def _metrics(self) -> Response:
        return Response(self.metrics.render(), media_type="text/plain; version=0.0.4")

    async def _dlq_list(self, request: Request) -> list[dict[str, Any]]:
        self._check_internal(request)
        return await self.dead_letters.list() if self.dead_letters else []

    async def _dlq_redrive(self, dead_letter_id: int, request: Request) -> dict[str, Any]:
        self._check_internal(request)
        if not self.dead_letters:
            raise RedriveFailed("this service keeps no dead letters")
        try:
            return await self.dead_letters.redrive(dead_letter_id)
        except AppError:
            raise
        except Exception as exc:
            raise RedriveFailed(f"the handler failed again: {exc!r}") from exc

    async def _revocations_list(self, request: Request) -> dict[str, Any]:
        self._check_internal(request)
        if self._revocation_source is None:
            raise NotFound("this service records no revocations")
        raw = request.query_params.get("since", "0")
        try:
            since = float(raw)
        except ValueError:
            raise BadQuery("since must be a number of seconds since the epoch") from None
        if not 0 <= since < 1e11:  # also refuses NaN and infinities (a date beyond year 5000 is no date)
            raise BadQuery("since must be a number of seconds since the epoch")
        return await self._revocation_source(since)

    async def _status(self, request: Request) -> dict[str, Any]:
        self._check_internal(request)
        return {
            "service": self.name,
            "instanceId": self.registration.instance_id,
            "configVersion": self.settings.config_version,
            "outbox": await self.relay.lag() if self.relay else None,
            "deadLetters": await self.dead_letters.count() if self.dead_letters else 0,
            "breakers": {name: c.breaker.state for name, c in self._clients.items()},
            "settings": {k: getattr(self.settings, k) for k in sorted(self.settings.reloadable_fields())},
        }

    def _operations_router(self) -> APIRouter:
        from fastapi import APIRouter

        router = APIRouter(include_in_schema=False)
        service = self

        @router.get("/health")
        async def health() -> dict[str, str]:
            return await service._health()

        @router.get("/ready")
        async def ready() -> Response:
            return await service._ready()

        @router.get("/metrics")
        async def metrics() -> Response:
            return await service._metrics()

        @router.get("/internal/dlq")
        async def dlq_list(request: Request) -> list[dict[str, Any]]:
            return await service._dlq_list(request)

        @router.post("/internal/dlq/{dead_letter_id}/redrive")
        async def dlq_redrive(dead_letter_id: int, request: Request) -> dict[str, Any]:
            return await service._dlq_redrive(dead_letter_id, request)

        @router.get("/internal/status")
        async def status(request: Request) -> dict[str, Any]:
            return await service._status(request)

        @router.get("/internal/revocations")
        async def revocations(request: Request) -> dict[str, Any]:
            return await service._revocations_list(request)

        return router

    def _operation_routes(self) -> list[BaseRoute]:
        from starlette.routing import Route

        def json(body: Any) -> Response:
            return Response(orjson.dumps(body), media_type="application/json")

        async def health(_: Request) -> Response:
            return json(await self._health())

        async def ready(_: Request) -> Response:
            return await self._ready()

        async def metrics(_: Request) -> Response:
            return await self._metrics()

        async def dlq_list(request: Request) -> Response:
            return json(await self._dlq_list(request))

        async def dlq_redrive(request: Request) -> Response:
            return json(await self._dlq_redrive(request.path_params["dead_letter_id"], request))

        async def status(request: Request) -> Response:
            return json(await self._status(request))

        async def revocations(request: Request) -> Response:
            return json(await self._revocations_list(request))

        return [Route("/health", health), Route("/ready", ready), Route("/metrics", metrics),
                Route("/internal/dlq", dlq_list), Route("/internal/dlq/{dead_letter_id:int}/redrive", dlq_redrive,
                                                        methods=["POST"]),
                Route("/internal/status", status), Route("/internal/revocations", revocations)]


GC_YOUNG_THRESHOLD = 20_000


def _settle_collector() -> None:
    """Make the cyclic garbage collector cheap under load (about a tenth of a request's CPU in a storm).

    What start-up left alive (modules, the app, settings) stays for good: `gc.freeze()` takes it out of
    the collector's sight, so a full collection walks only what requests made. And a young collection
    every 20,000 allocations rather than every 700 (a few MB of garbage at most waits for it): with a
    thousand requests in flight, each young collection walked their live objects again and again.
    Measured with bench/coupon_storm.py: CPU per claim -8 % in the order service, -11 % in the gateway.
    """
    import gc

    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def _release_free_memory() -> None:
    """Hand memory freed during start-up back to the OS (glibc keeps it otherwise)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def run(app: Starlette, settings: ServiceSettings, *, http: str | type[asyncio.Protocol] = "httptools") -> None:
    """Serve the app with uvicorn on the settings' host and port, logging JSON to stdout.

    `http` is uvicorn's HTTP protocol: a name, or a protocol class (the gateway passes its own). One worker,
    no reload, no WebSocket protocol: uvicorn's `Config` and `Server` are used directly, as `uvicorn.run`
    would for this case, so that its command line and reloaders are never imported (see `gluta_kit._lean`).
    """
    import sys

    from uvicorn.config import Config
    from uvicorn.server import Server

    setup_logging(type(settings).service_name, settings.log_level)
    config = Config(app, host=settings.host, port=settings.port, loop="uvloop", http=http, ws="none",
                    log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=5,
                    server_header=False, workers=1)
    config.load_app()
    server = Server(config=config)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE
