"""Instances register, heartbeat, expire when silent; clients balance over the live ones and skip the dead."""

from pathlib import Path

from gluta_discovery.app import create_app
from gluta_discovery.registry import Registry
from gluta_discovery.settings import DiscoverySettings
from gluta_kit.http import Instances
from gluta_kit.testing import make_settings, running


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_silent_instance_expires_and_heartbeat_keeps_alive() -> None:
    clock = Clock()
    registry = Registry(expire_after=15)
    registry._clock = clock
    registry.register("product", "p1", "http://127.0.0.1:1/")
    registry.register("product", "p2", "http://127.0.0.1:2")
    clock.now += 10
    assert registry.heartbeat("product", "p1")
    clock.now += 10  # p2 has been silent for 20 s, p1 for 10 s
    assert [i["instanceId"] for i in registry.list("product")] == ["p1"]
    assert registry.list("product")[0]["url"] == "http://127.0.0.1:1"
    assert not registry.heartbeat("product", "p2")  # told to register again


async def test_http_api_and_round_robin_with_expiry(tmp_path: Path) -> None:
    app = create_app(make_settings(DiscoverySettings, tmp_path, expire_after_seconds=15))
    clock = Clock()
    app.state.registry._clock = clock
    async with running(app) as client:
        for n in (1, 2):
            response = await client.post("/instances", json={"service": "product", "instanceId": f"p{n}",
                                                             "url": f"http://10.0.0.{n}:8102"})
            assert response.status_code == 201
        instances = Instances("http://test", client=client, ttl_seconds=0)
        picks = [(await instances.ordered("product"))[0] for _ in range(4)]
        assert picks == ["http://10.0.0.1:8102", "http://10.0.0.2:8102"] * 2

        clock.now += 10
        assert (await client.put("/instances/product/p2/heartbeat")).status_code == 204
        clock.now += 10
        assert await instances.urls("product") == ["http://10.0.0.2:8102"]
        assert (await client.put("/instances/product/p1/heartbeat")).status_code == 404

        assert (await client.delete("/instances/product/p2")).status_code == 204
        assert (await client.get("/instances")).json() == {}


async def test_bad_registration_is_422(tmp_path: Path) -> None:
    app = create_app(make_settings(DiscoverySettings, tmp_path))
    async with running(app) as client:
        for body in ({}, {"service": "Product!", "instanceId": "x", "url": "http://a"},
                     {"service": "product", "instanceId": "x", "url": "not a url"}):
            response = await client.post("/instances", json=body)
            assert response.status_code == 422, body
            assert response.json()["code"] == "VALIDATION_ERROR"
        response = await client.post("/instances", content=b"[", headers={"content-type": "application/json"})
        assert response.status_code == 422
