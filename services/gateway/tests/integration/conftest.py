"""A small system on free ports of 127.0.0.1, in this process: discovery, stand-in services, the gateway.

The stand-ins are built on the kit like the real services (same middleware, same registration in
discovery). Each answers any path with what it received, so tests can see what the gateway sent on.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.requests import ClientDisconnect

from gluta_discovery.app import create_app as create_discovery
from gluta_discovery.settings import DiscoverySettings
from gluta_gateway.app import create_app as create_gateway
from gluta_gateway.server import GatewayHttpProtocol
from gluta_gateway.settings import GatewaySettings
from gluta_kit.service import Service
from gluta_kit.settings import ServiceSettings
from gluta_kit.testing import TestKeys, make_settings
from gluta_kit.tracing import current_ids


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    """Return a port nothing listens on (for an instance that is registered but dead)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One ASGI app served by uvicorn in this event loop, on a socket bound before the app is built."""

    def __init__(self) -> None:
        self.sock = _bound_socket()
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, app: Any, http: Any = "httptools") -> None:
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", http=http,
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._task = asyncio.create_task(self._server.serve(sockets=[self.sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("server stopped while starting")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._task, 10)
        self.sock.close()


@dataclass
class StandIn:
    """A stand-in service instance: its server and the requests it received."""

    name: str
    server: Server
    seen: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url


def _stand_in_app(name: str, port: int, discovery_url: str, keys: TestKeys, seen: list[dict[str, Any]]) -> FastAPI:
    settings_cls = type(f"{name.title()}StandInSettings", (ServiceSettings,), {
        "__annotations__": {"service_name": ClassVar[str], "reads_remote_config": ClassVar[bool]},
        "service_name": name, "reads_remote_config": False})
    settings = settings_cls(port=port, discovery_url=discovery_url, config_url=None, heartbeat_seconds=0.5)
    router = APIRouter()

    if name == "user":
        @router.get("/.well-known/jwks.json")
        async def jwks() -> dict[str, Any]:
            return keys.jwks

    if name == "product":
        @router.get("/types", summary="List the product types")
        async def types(request: Request) -> Response:
            return await echo("types", request)

        @router.get("/internal/stock/{product_id}", summary="Internal: stock of a product")
        async def internal_stock(product_id: int) -> dict[str, int]:
            return {"productId": product_id, "quantity": 1}

    @router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
                      include_in_schema=False)
    async def echo(path: str, request: Request) -> Response:
        query = request.query_params
        if "sleep" in query:
            await asyncio.sleep(float(query["sleep"]))
        digest = hashlib.sha256()
        size = 0
        try:
            async for chunk in request.stream():
                digest.update(chunk)
                size += len(chunk)
        except ClientDisconnect:  # the gateway gave up on this request (a timeout test)
            return Response(status_code=499)
        trace_id, _ = current_ids()
        record = {"service": name, "port": port, "method": request.method, "path": request.url.path,
                  "rawPath": request.scope.get("raw_path", b"").decode("latin-1"),
                  "query": request.scope.get("query_string", b"").decode("latin-1"),
                  "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.scope["headers"]],
                  "bodyBytes": size, "bodySha256": digest.hexdigest(), "traceId": trace_id}
        seen.append(record)
        if "chunks" in query:  # an answer without a length: chunked on the wire
            async def parts():
                for n in range(int(query["chunks"])):
                    yield b"%d," % n
                    await asyncio.sleep(0)

            return StreamingResponse(parts(), media_type="text/plain")
        if "size" in query:
            return Response(b"x" * int(query["size"]), media_type="application/octet-stream",
                            headers={"etag": '"big"'})
        response = JSONResponse(record, status_code=int(query.get("status", 200)))
        response.headers["x-stand-in"] = name
        response.set_cookie("stand", "in")
        return response

    # the stand-ins take any body the gateway lets through: the limits under test are the gateway's
    return Service(settings, uses_bus=False).create_app([router], title=f"{name} stand-in",
                                                        max_body_bytes=64 << 20, max_upload_bytes=64 << 20)


class System:
    """Discovery, stand-in services and gateways started by a test, all stopped after it."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.keys = TestKeys()
        self.discovery_url = ""
        self.services: dict[str, StandIn] = {}
        self._servers: list[Server] = []
        self._gateways: list[Gateway] = []
        self._http = httpx.AsyncClient(timeout=5.0)

    async def start_discovery(self) -> str:
        server = Server()
        settings = DiscoverySettings(port=server.port, data_dir=self.tmp_path, expire_after_seconds=30)
        await server.start(create_discovery(settings))
        self._servers.append(server)
        self.discovery_url = server.url
        return server.url

    async def stand_in(self, name: str, *, wait: bool = True) -> StandIn:
        """Start a stand-in instance of `name` that registers in discovery."""
        server = Server()
        stand_in = StandIn(name, server)
        await server.start(_stand_in_app(name, server.port, self.discovery_url, self.keys, stand_in.seen))
        self._servers.append(server)
        if wait:
            await self.wait_registered(name, server.url)
        return stand_in

    async def serve(self, app: Any) -> str:
        """Serve any ASGI app on a free port until the test ends; return its URL."""
        server = Server()
        await server.start(app)
        self._servers.append(server)
        return server.url

    async def stop(self, stand_in: StandIn) -> None:
        await stand_in.server.stop()
        self._servers.remove(stand_in.server)

    async def register(self, name: str, url: str) -> None:
        """Register an instance by hand (one that may not exist)."""
        response = await self._http.post(f"{self.discovery_url}/instances",
                                         json={"service": name, "instanceId": f"fake-{url[-5:]}", "url": url})
        response.raise_for_status()

    async def wait_registered(self, name: str, url: str) -> None:
        for _ in range(300):
            listed = (await self._http.get(f"{self.discovery_url}/instances/{name}")).json()
            if any(item["url"] == url for item in listed):
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{name} at {url} never registered")

    async def gateway(self, *, bus: bool = False, **overrides: Any) -> Gateway:
        """Start a gateway (settings overridable) and return it with a client bound to it."""
        server = Server()
        values: dict[str, Any] = {"discovery_url": self.discovery_url, "port": server.port, "bus_url": "",
                                  "discovery_cache_seconds": 0.2}
        if bus:
            values["bus_url"] = "nats://127.0.0.1:4222"  # replaced by FastStream's in-memory test broker
        values.update(overrides)
        settings = make_settings(GatewaySettings, self.tmp_path, **values)
        app = create_gateway(settings)
        gateway = Gateway(app, settings, server)
        if bus:
            from faststream.nats import TestNatsBroker

            service_bus = app.state.service.bus
            service_bus.in_memory = True
            gateway.test_broker = TestNatsBroker(service_bus.broker)
            await gateway.test_broker.__aenter__()
        self._gateways.append(gateway)
        await server.start(app, http=GatewayHttpProtocol)  # as `python -m gluta_gateway` serves it
        self._servers.append(server)
        return gateway

    async def stop_gateway(self, gateway: Gateway) -> None:
        await gateway.server.stop()
        self._servers.remove(gateway.server)
        self._gateways.remove(gateway)
        if gateway.test_broker is not None:
            await gateway.test_broker.__aexit__(None, None, None)

    async def aclose(self) -> None:
        for server in reversed(self._servers):
            await server.stop()
        for gateway in self._gateways:
            if gateway.test_broker is not None:
                await gateway.test_broker.__aexit__(None, None, None)
        await self._http.aclose()


class Gateway:
    """A running gateway: its app, settings and an HTTP client bound to it."""

    def __init__(self, app: FastAPI, settings: GatewaySettings, server: Server) -> None:
        self.app = app
        self.settings = settings
        self.server = server
        self.url = server.url
        self.test_broker: Any = None

    @property
    def service(self) -> Service:
        return self.app.state.service

    @asynccontextmanager
    async def client(self, **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(base_url=self.url, timeout=10.0, **kwargs) as client:
            yield client


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[System]:
    """An empty system with discovery running, for a test that changes what is registered."""
    system = System(tmp_path)
    await system.start_discovery()
    try:
        yield system
    finally:
        await system.aclose()


@pytest.fixture
async def services(system: System) -> dict[str, StandIn]:
    """One stand-in instance of each routed service, in the test's own system."""
    return {name: await system.stand_in(name) for name in ("user", "product", "order")}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    """Discovery and one stand-in of each routed service, shared by a module's tests (which must not
    change what is registered); its tests run in the module's event loop."""
    system = System(tmp_path_factory.mktemp("shared"))
    await system.start_discovery()
    try:
        system.services = {name: await system.stand_in(name) for name in ("user", "product", "order")}
        yield system
    finally:
        await system.aclose()


@pytest_asyncio.fixture(loop_scope="module")
async def gateway(shared: System) -> AsyncIterator[Any]:
    """Start gateways on the shared system (`await gateway(**settings)`); stopped after the test."""
    started: list[Gateway] = []

    async def start(**overrides: Any) -> Gateway:
        started.append(await shared.gateway(**overrides))
        return started[-1]

    try:
        yield start
    finally:
        for one in started:
            await shared.stop_gateway(one)
