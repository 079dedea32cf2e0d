"""A configuration refresh reaches every instance of a service, on every bus (NATS, Redis Streams, Kafka):
a broadcast is read by each instance, not shared out between them like a consumer's events. An instance
that starts later gets the refreshes made after it started, and does not replay the older ones."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gluta_contracts import ConfigRefreshed
from gluta_kit.bus import Bus
from gluta_kit.service import Service
from gluta_kit.settings import ServiceSettings
from gluta_kit.testing import make_settings, server_url, serving

pytestmark = pytest.mark.connected


class ShopSettings(ServiceSettings):
    service_name: ClassVar[str] = "shop"


@pytest.fixture(params=["nats", "redis", "kafka"])
def bus_url(request: pytest.FixtureRequest) -> str:
    if request.param == "kafka":
        return str(request.getfixturevalue("kafka_url"))
    url = server_url(request.param)
    if not url:
        pytest.skip(f"GLUTA_TEST_{request.param.upper()}_URL is not set: no real {request.param} server")
    return url


@asynccontextmanager
async def config_server(state: dict[str, Any]) -> AsyncIterator[str]:
    """A stand-in config service answering the current version and values."""

    async def config(request: Request) -> JSONResponse:
        return JSONResponse({"version": state["version"], "values": state["values"]})

    async with serving(Starlette(routes=[Route("/config/{service}/{profile}", config)])) as url:
        yield url


async def wait_for(predicate: Any, seconds: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_config_refresh_reaches_every_instance(bus_url: str, tmp_path: Path) -> None:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    state: dict[str, Any] = {"version": "v1", "values": {}}
    reloads: dict[str, int] = {}

    def instance(name: str, config_url: str) -> Service:
        settings = make_settings(ShopSettings, tmp_path / name, bus_url=bus_url, bus_namespace=namespace,
                                 kafka_session_timeout_ms=6000)
        settings.config_url = config_url  # after loading: the stand-in runs on this event loop, load() blocks it
        service = Service(settings)

        async def count(changed: dict[str, Any]) -> None:
            reloads[name] = reloads.get(name, 0) + 1

        service.on_reload.append(count)
        return service

    async def refresh(publisher: Bus, version: str) -> None:
        state.update(version=version, values={"feature_flags": {version: True}})
        event = ConfigRefreshed(version=version)  # what `gluta config refresh` makes the config service send
        await publisher.publish_broadcast(event.topic, event.to_json(), {"eventId": event.event_id})

    async with config_server(state) as config_url:
        first, second = instance("a", config_url), instance("b", config_url)
        publisher = Bus(bus_url, "config", namespace=namespace)
        await asyncio.gather(first.start(), second.start(), publisher.start())
        late: Service | None = None
        try:
            await refresh(publisher, "v2")
            await wait_for(lambda: first.settings.config_version == "v2" == second.settings.config_version)
            assert first.settings.feature_flags == {"v2": True} == second.settings.feature_flags

            late = instance("c", config_url)  # a third instance, started after that refresh
            await late.start()
            await refresh(publisher, "v3")
            await wait_for(lambda: all(s.settings.config_version == "v3" for s in (first, second, late)))
            await asyncio.sleep(0.5)
            assert reloads == {"a": 2, "b": 2, "c": 1}  # each once per refresh; v2 was not replayed to the late one
            assert late.settings.feature_flags == {"v3": True}
        finally:
            await asyncio.gather(*(s.stop() for s in (first, second, late) if s is not None), publisher.stop())
