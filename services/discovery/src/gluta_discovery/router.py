"""The registry's HTTP API, the Eureka equivalent (plain Starlette routes: no FastAPI in this process)."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gluta_discovery.registry import Registry
from gluta_kit.errors import NotFound, invalid_request


class InstanceCreate(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    service: str = Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")
    instance_id: str = Field(min_length=1, max_length=80)
    url: str = Field(pattern=r"^https?://[^\s/]+(:\d+)?(/.*)?$", max_length=300)


def _registry(request: Request) -> Registry:
    return request.app.state.registry


def _json(body: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


async def register(request: Request) -> Response:
    """Register an instance (or refresh it)."""
    try:
        body = InstanceCreate.model_validate_json(await request.body())
    except ValidationError as exc:
        return invalid_request([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
    return _json(_registry(request).register(body.service, body.instance_id, body.url).to_dict(0), 201)


async def heartbeat(request: Request) -> Response:
    """Keep an instance alive; 404 tells it to register again."""
    service, instance_id = request.path_params["service"], request.path_params["instance_id"]
    if not _registry(request).heartbeat(service, instance_id):
        raise NotFound(f"instance {instance_id} of {service} is not registered")
    return Response(status_code=204)


async def deregister(request: Request) -> Response:
    """Remove an instance that is shutting down."""
    _registry(request).deregister(request.path_params["service"], request.path_params["instance_id"])
    return Response(status_code=204)


async def list_all(request: Request) -> Response:
    """List every live instance by service."""
    return _json(_registry(request).all())


async def list_service(request: Request) -> Response:
    """List the live instances of one service."""
    return _json(_registry(request).list(request.path_params["service"]))


routes = [
    Route("/instances", register, methods=["POST"]),
    Route("/instances", list_all, methods=["GET"]),
    Route("/instances/{service}/{instance_id}/heartbeat", heartbeat, methods=["PUT"]),
    Route("/instances/{service}/{instance_id}", deregister, methods=["DELETE"]),
    Route("/instances/{service}", list_service, methods=["GET"]),
]
