"""The janitor's internal endpoint (called by `gluta janitor` on its schedule)."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request

from gluta_kit.auth import optional_principal
from gluta_kit.errors import Forbidden
from gluta_product.deps import ClockDep, ServiceDep, StorageDep
from gluta_product.janitor.schemas import JanitorReport
from gluta_product.janitor.service import run_janitor

router = APIRouter(tags=["internal"])


async def require_janitor(request: Request) -> None:
    """Allow the internal token, an admin token, or (when no internal token is set) a loopback caller."""
    token = request.app.state.service.settings.internal_token
    if token and request.headers.get("x-internal-token") == token:
        return
    principal = await optional_principal(request)
    if principal is not None:
        if principal.is_admin:
            return
        raise Forbidden("admins only")
    host = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host in {"localhost", "testclient"}
    if not token and loopback:
        return
    raise Forbidden("internal endpoint")


@router.post("/internal/janitor/run", response_model=JanitorReport)
async def janitor_run(request: Request, service: ServiceDep, storage: StorageDep, clock: ClockDep,
                      older_than_days: Annotated[int, Query(alias="olderThanDays", ge=0, le=3650)] = 30,
                      dry_run: Annotated[bool, Query(alias="dryRun")] = False) -> JanitorReport:
    """Remove what was soft-deleted more than `olderThanDays` ago (files through the storage port)."""
    await require_janitor(request)
    return await run_janitor(service.uow(), storage, older_than=timedelta(days=older_than_days), now=clock(),
                             dry_run=dry_run)
