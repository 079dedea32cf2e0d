"""The operations page gathers discovery, each instance and the config service, served by stand-in servers."""

import re
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gluta_admin.app import create_app
from gluta_admin.operations.exceptions import RedriveRefused
from gluta_admin.operations.service import Operations
from gluta_admin.settings import AdminSettings
from gluta_kit.testing import free_port, make_settings, running, serving

TOKEN = "ops-secret"


def instance_app(name: str, *, dead_letters: list[dict[str, Any]] | None = None, ready: bool = True,
                 breakers: dict[str, str] | None = None, config_version: str = "v2") -> FastAPI:
    """A service instance's operational endpoints, refusing internal calls without the token."""
    app = FastAPI()
    app.state.redriven = []
    letters = dead_letters if dead_letters is not None else []

    def internal(request: Request) -> JSONResponse | None:
        if request.headers.get("x-internal-token") != TOKEN:
            return JSONResponse({"code": "FORBIDDEN"}, status_code=403)
        return None

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": name}

    @app.get("/ready")
    async def ready_() -> JSONResponse:
        checks = {"database": "ok", "broker": "ok" if ready else "down"}
        return JSONResponse({"status": "ok" if ready else "down", "checks": checks}, status_code=200 if ready else 503)

    @app.get("/internal/status")
    async def status(request: Request) -> Any:
        return internal(request) or {"service": name, "instanceId": f"{name}-1", "configVersion": config_version,
                                     "outbox": {"pending": 4, "oldestSeconds": 12.5, "published": 99},
                                     "deadLetters": len(letters), "breakers": breakers or {}}

    @app.get("/internal/dlq")
    async def dlq(request: Request) -> Any:
        return internal(request) or letters

    @app.post("/internal/dlq/{letter_id}/redrive")
    async def redrive(letter_id: int, request: Request) -> Any:
        refused = internal(request)
        if refused:
            return refused
        if letter_id == 99:
            return JSONResponse({"code": "REDRIVE_FAILED", "detail": "the handler failed again: boom"}, status_code=409)
        app.state.redriven.append(letter_id)
        letters[:] = [d for d in letters if d["id"] != letter_id]
        return {"id": letter_id, "redriven": True}

    return app


def registry_app(instances: dict[str, list[dict[str, Any]]]) -> FastAPI:
    app = FastAPI()

    @app.get("/instances")
    async def all_instances() -> Any:
        return instances

    return app


def config_app() -> FastAPI:
    app = FastAPI()

    @app.get("/version")
    async def version() -> dict[str, str]:
        return {"version": "v2"}

    return app


LETTER = {"id": 5, "eventId": "e-1", "topic": "order.placed", "consumer": "product-reserve-stock",
          "error": "ValueError('<b>bad</b> payload')", "attempts": 5, "createdAt": "2026-11-24T01:00:00+00:00",
          "redrivenAt": None, "payload": "{\"orderId\": 1}"}


async def test_report_gathers_every_instance_and_the_dead_letters():
    product = instance_app("product", dead_letters=[dict(LETTER)], breakers={"user": "open"})
    order = instance_app("order", ready=False, config_version="v1")
    dead_port = free_port()  # listed by discovery, but nothing answers there
    async with serving(product) as product_url, serving(order) as order_url, serving(config_app()) as config_url:
        listed = {
            "product": [{"instanceId": "product-a", "url": product_url, "secondsSinceHeartbeat": 1.2}],
            "order": [{"instanceId": "order-a", "url": order_url},
                      {"instanceId": "order-b", "url": f"http://127.0.0.1:{dead_port}"}],
        }
        async with serving(registry_app(listed)) as discovery_url, httpx.AsyncClient() as client:
            ops = Operations(discovery_url=discovery_url, config_url=config_url, internal_token=TOKEN, client=client)
            report = await ops.report()
            assert report.config_version == "v2" and report.problems == []
            assert list(report.services) == ["product", "order"]
            p, = report.services["product"]
            assert p.healthy and p.ready and p.outbox == {"pending": 4, "oldestSeconds": 12.5, "published": 99}
            assert p.breakers == {"user": "open"} and p.dead_letter_count == 1 and not report.is_stale(p)
            live, dead = report.services["order"]
            assert live.healthy and live.ready is False and live.ready_checks["broker"] == "down"
            assert report.is_stale(live)  # runs config v1 while v2 is in force
            assert not dead.healthy and dead.problem
            assert [(d.service, d.id, d.consumer) for d in report.dead_letters] == [
                ("product", 5, "product-reserve-stock")]

            await ops.redrive("product", 5)
            assert product.state.redriven == [5]
            try:
                await ops.redrive("product", 99)
            except RedriveRefused as exc:
                assert "failed again" in exc.detail
            else:
                raise AssertionError("a failing redrive must be reported")

            # without the token the internal endpoints refuse, and the page says so
            report = await Operations(discovery_url=discovery_url, config_url=config_url, internal_token=None,
                                      client=client).report()
            assert report.services["product"][0].problem == "status: HTTP 403"
            assert any("product dead letters" in problem for problem in report.problems)


async def test_discovery_and_config_down_are_problems_not_errors():
    async with httpx.AsyncClient() as client:
        port = free_port()
        ops = Operations(discovery_url=f"http://127.0.0.1:{port}", config_url=f"http://127.0.0.1:{port}",
                         internal_token=None, client=client, timeout=0.5)
        report = await ops.report()
    assert report.services == {} and report.config_version is None
    assert [p.split(":")[0] for p in report.problems] == ["discovery", "config"]


async def test_operations_page_and_redrive_button(tmp_path, fake_gateway, session_store, accounts):
    product = instance_app("product", dead_letters=[dict(LETTER)], breakers={"user": "half-open"})
    async with serving(product) as product_url, serving(config_app()) as config_url:
        listed = {"product": [{"instanceId": "product-a", "url": product_url, "secondsSinceHeartbeat": 0.4}]}
        async with serving(registry_app(listed)) as discovery_url:
            settings = make_settings(AdminSettings, tmp_path, gateway_url="http://gateway.test",
                                     discovery_url=discovery_url, config_url=config_url, internal_token=TOKEN)
            app = create_app(settings, session_store=session_store,
                             gateway_transport=httpx.ASGITransport(app=fake_gateway.app))
            async with running(app) as client:
                login = await client.get("/login")
                token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
                await client.post("/login", data={"loginId": "boss", "password": accounts["admin"]["password"],
                                                  "csrf_token": token})
                page = (await client.get("/operations")).text
                assert 'data-service="product" data-instance="product-a"' in page
                assert "user: half-open" in page and 'id="config-version"' in page and ">v2<" in page
                assert 'data-dead-letter="product-5"' in page
                assert "ValueError(&#39;&lt;b&gt;bad&lt;/b&gt; payload&#39;)" in page
                redrive = await client.post("/operations/dlq/product/5/redrive", data={"csrf_token": token})
                assert redrive.status_code == 303 and product.state.redriven == [5]
                page = (await client.get("/operations")).text
                assert "product의 데드 레터 5번을 재처리했습니다." in page
                assert 'data-dead-letter="product-5"' not in page
                await client.post("/operations/dlq/product/99/redrive", data={"csrf_token": token})
                assert "재처리에 실패했습니다: the handler failed again: boom" in (await client.get("/operations")).text
                refused = await client.post("/operations/dlq/product/5/redrive", data={})
                assert refused.status_code == 403
