"""The config service's HTTP API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from gluta_config.repository import BadName, ConfigRepository
from gluta_contracts import ConfigRefreshed
from gluta_kit.errors import AppError
from gluta_kit.logging import get_logger
from gluta_kit.tracing import inject

router = APIRouter(tags=["config"])
log = get_logger("gluta.config")


class InvalidName(AppError):
    status, code, title = 422, "VALIDATION_ERROR", "Invalid service or profile name"


class BrokenConfig(AppError):
    status, code, title = 409, "CONFIG_INVALID", "The configuration repository has an unreadable file"


@router.get("/config/{service}/{profile}")
async def read_config(service: str, profile: str, request: Request) -> dict[str, Any]:
    """Return the merged settings of a service for a profile, with the version they come from."""
    repo: ConfigRepository = request.app.state.repository
    try:
        values, sources = repo.values(service, profile)
    except BadName as exc:
        raise InvalidName(str(exc)) from exc
    except ValueError as exc:
        raise BrokenConfig(str(exc)) from exc
    return {"service": service, "profile": profile, "version": repo.version(), "sources": sources, "values": values}


@router.get("/version")
async def version(request: Request) -> dict[str, str]:
    """Return the version in force."""
    return {"version": request.app.state.repository.version()}


@router.post("/refresh")
async def refresh(request: Request) -> dict[str, str]:
    """Tell every service instance to re-read its settings."""
    repo: ConfigRepository = request.app.state.repository
    current = repo.version()
    event = ConfigRefreshed(version=current)
    bus = request.app.state.service.bus
    await bus.publish_broadcast(event.topic, event.to_json(), inject({"eventId": event.event_id}))
    log.info("config.refresh_published", version=current)
    return {"version": current}
