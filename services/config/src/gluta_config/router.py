"""The config service's HTTP API (plain Starlette routes: no FastAPI in this process)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gluta_config.repository import BadName, ConfigRepository
from gluta_contracts import ConfigRefreshed
from gluta_kit.errors import AppError
from gluta_kit.logging import get_logger
from gluta_kit.tracing import inject

log = get_logger("gluta.config")


class InvalidName(AppError):
    status, code, title = 422, "VALIDATION_ERROR", "Invalid service or profile name"


class BrokenConfig(AppError):
    status, code, title = 409, "CONFIG_INVALID", "The configuration repository has an unreadable file"


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


async def read_config(request: Request) -> Response:
    """Return the merged settings of a service for a profile, with the version they come from."""
    repo: ConfigRepository = request.app.state.repository
    service, profile = request.path_params["service"], request.path_params["profile"]
    try:
        values, sources = repo.values(service, profile)
    except BadName as exc:
        raise InvalidName(str(exc)) from exc
    except ValueError as exc:
        raise BrokenConfig(str(exc)) from exc
    return _json({"service": service, "profile": profile, "version": repo.version(), "sources": sources,
                  "values": values})


async def version(request: Request) -> Response:
    """Return the version in force."""
    return _json({"version": request.app.state.repository.version()})


async def refresh(request: Request) -> Response:
    """Tell every service instance to re-read its settings."""
    repo: ConfigRepository = request.app.state.repository
    current = repo.version()
    event = ConfigRefreshed(version=current)
    bus = request.app.state.service.bus
    await bus.publish_broadcast(event.topic, event.to_json(), inject({"eventId": event.event_id}))
    log.info("config.refresh_published", version=current)
    return _json({"version": current})


routes = [
    Route("/config/{service}/{profile}", read_config, methods=["GET"]),
    Route("/version", version, methods=["GET"]),
    Route("/refresh", refresh, methods=["POST"]),
]
