"""A service process: settings, database, bus, outbox relay, clients and the FastAPI app around them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from gluta_contracts import ConfigRefreshed
from gluta_kit.auth import TokenVerifier
from gluta_kit.discovery import Registration
from gluta_kit.errors import AppError, Forbidden, install_error_handlers
from gluta_kit.http import Instances, ServiceClient
from gluta_kit.logging import get_logger, set_level, setup_logging
from gluta_kit.observability import Metrics, RequestContextMiddleware
from gluta_kit.settings import ServiceSettings, fetch_remote_config
from gluta_kit.tracing import setup_tracing

if TYPE_CHECKING:  # the database and bus stacks are imported only by services that use them (memory)
    from gluta_kit.bus import Bus
    from gluta_kit.db import Database
    from gluta_kit.deadletter import DeadLetters
    from gluta_kit.relay import OutboxRelay
    from gluta_kit.sqlite import SqliteFile
    from gluta_kit.uow import UnitOfWork

log = get_logger("gluta.service")

Hook = Callable[[], Awaitable[None]]


class RedriveFailed(AppError):
    status, code, title = 409, "REDRIVE_FAILED", "The handler failed again"


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
                           namespace=settings.bus_namespace)
        self.dead_letters: DeadLetters | None = None
        self.relay: OutboxRelay | None = None
        if self.db and self.bus and not getattr(self.db, "plain", False):
            from gluta_kit.deadletter import DeadLetters
            from gluta_kit.relay import OutboxRelay

            self.dead_letters = DeadLetters(self.db, self.bus)
            self.bus.dead_letters = self.dead_letters.store
            self.relay = OutboxRelay(self.db, self.bus, batch_size=settings.outbox_batch_size)
        self.instances = Instances(settings.discovery_url, settings.static_instances)
        self.verifier = TokenVerifier(self._fetch_jwks, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
        self.registration = Registration(settings.discovery_url, self.name, settings.base_url,
                                         settings.heartbeat_seconds)
        self.metrics = Metrics(self.name)
        self.on_start: list[Hook] = []
        self.on_stop: list[Hook] = []
        self.on_reload: list[Callable[[dict[str, Any]], Awaitable[None]]] = []
        self._clients: dict[str, ServiceClient] = {}
        if self.bus:
            self.bus.broadcast(ConfigRefreshed.topic, self._on_config_refreshed)

    # --- parts --------------------------------------------------------------------------------
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
    def create_app(self, routers: Sequence[APIRouter] = (), *, title: str | None = None,
                   root_path_prefix: str = "", **fastapi_kwargs: Any) -> FastAPI:
        """Build the FastAPI app with the kit's handlers, middleware and operational routes."""
        service = self

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await service.start()
            try:
                yield
            finally:
                await service.stop()

        # The kit's middleware already makes the one server span per request and the metrics; FastAPI's own
        # telemetry would add a second span, operation spans and metrics to every request.
        fastapi_kwargs.setdefault("telemetry", {"tracing": False, "metrics": False, "logs": False,
                                                "operation_spans": False})
        app = FastAPI(title=title or f"gluta {self.name}", lifespan=lifespan, **fastapi_kwargs)
        app.state.service = self
        app.state.verifier = self.verifier
        install_error_handlers(app)
        app.add_middleware(RequestContextMiddleware, metrics=self.metrics)
        for router in routers:
            app.include_router(router, prefix=root_path_prefix)
        app.include_router(self._operations_router())
        return app

    def _check_internal(self, request: Request) -> None:
        token = self.settings.internal_token
        if token and request.headers.get("x-internal-token") != token:
            raise Forbidden("internal endpoint")

    def _operations_router(self) -> APIRouter:
        router = APIRouter(include_in_schema=False)
        service = self

        @router.get("/health")
        async def health() -> dict[str, str]:
            return {"status": "ok", "service": service.name}

        @router.get("/ready")
        async def ready() -> Response:
            checks = await service.readiness()
            ok = all(v == "ok" for v in checks.values())
            return Response(orjson.dumps({"status": "ok" if ok else "down", "checks": checks}),
                            status_code=200 if ok else 503, media_type="application/json")

        @router.get("/metrics")
        async def metrics() -> Response:
            return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")

        @router.get("/internal/dlq")
        async def dlq_list(request: Request) -> list[dict[str, Any]]:
            service._check_internal(request)
            return await service.dead_letters.list() if service.dead_letters else []

        @router.post("/internal/dlq/{dead_letter_id}/redrive")
        async def dlq_redrive(dead_letter_id: int, request: Request) -> dict[str, Any]:
            service._check_internal(request)
            if not service.dead_letters:
                raise RedriveFailed("this service keeps no dead letters")
            try:
                return await service.dead_letters.redrive(dead_letter_id)
            except AppError:
                raise
            except Exception as exc:
                raise RedriveFailed(f"the handler failed again: {exc!r}") from exc

        @router.get("/internal/status")
        async def status(request: Request) -> dict[str, Any]:
            service._check_internal(request)
            return {
                "service": service.name,
                "instanceId": service.registration.instance_id,
                "configVersion": service.settings.config_version,
                "outbox": await service.relay.lag() if service.relay else None,
                "deadLetters": await service.dead_letters.count() if service.dead_letters else 0,
                "breakers": {name: c.breaker.state for name, c in service._clients.items()},
                "settings": {k: getattr(service.settings, k) for k in sorted(service.settings.reloadable_fields())},
            }

        return router


def _release_free_memory() -> None:
    """Hand memory freed during start-up back to the OS (glibc keeps it otherwise)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def run(app: FastAPI, settings: ServiceSettings, *, http: str | type[asyncio.Protocol] = "httptools") -> None:
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
