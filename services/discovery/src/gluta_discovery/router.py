"""The registry's HTTP API, the Eureka equivalent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from gluta_discovery.registry import Registry
from gluta_kit.errors import NotFound

router = APIRouter(tags=["discovery"])


class InstanceCreate(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    service: str = Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")
    instance_id: str = Field(min_length=1, max_length=80)
    url: str = Field(pattern=r"^https?://[^\s/]+(:\d+)?(/.*)?$", max_length=300)


def get_registry(request: Request) -> Registry:
    return request.app.state.registry


RegistryDep = Annotated[Registry, Depends(get_registry)]


@router.post("/instances", status_code=201)
async def register(body: InstanceCreate, registry: RegistryDep) -> dict[str, object]:
    """Register an instance (or refresh it)."""
    return registry.register(body.service, body.instance_id, body.url).to_dict(0)


@router.put("/instances/{service}/{instance_id}/heartbeat", status_code=204)
async def heartbeat(service: str, instance_id: str, registry: RegistryDep) -> Response:
    """Keep an instance alive; 404 tells it to register again."""
    if not registry.heartbeat(service, instance_id):
        raise NotFound(f"instance {instance_id} of {service} is not registered")
    return Response(status_code=204)


@router.delete("/instances/{service}/{instance_id}", status_code=204)
async def deregister(service: str, instance_id: str, registry: RegistryDep) -> Response:
    """Remove an instance that is shutting down."""
    registry.deregister(service, instance_id)
    return Response(status_code=204)


@router.get("/instances")
async def list_all(registry: RegistryDep) -> dict[str, list[dict[str, object]]]:
    """List every live instance by service."""
    return registry.all()


@router.get("/instances/{service}")
async def list_service(service: str, registry: RegistryDep) -> list[dict[str, object]]:
    """List the live instances of one service."""
    return registry.list(service)
