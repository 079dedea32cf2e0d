"""The operations page and the dead-letter redrive button."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from gluta_admin.operations.exceptions import NoInstance, RedriveRefused
from gluta_admin.operations.service import DLQ_SERVICES
from gluta_admin.web import Admin, _, operations, redirect, render
from gluta_kit.web import flash, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])


@router.get("/operations", response_class=HTMLResponse)
async def operations_page(request: Request, admin: Admin) -> HTMLResponse:
    """Show every instance's health, outbox lag, breakers and config version, and the dead letters."""
    report = await operations(request).report()
    return render(request, "operations.html", nav="operations", report=report)


@router.post("/operations/dlq/{service}/{dead_letter_id}/redrive")
async def redrive(request: Request, service: str, dead_letter_id: int, admin: Admin) -> Response:
    """Run a dead letter through its consumer again."""
    if service not in DLQ_SERVICES:
        flash(request, _("This service keeps no dead letters."), "error")
        return redirect("/operations")
    try:
        await operations(request).redrive(service, dead_letter_id)
    except NoInstance:
        flash(request, _("No instance of %(service)s answered; try again when it is up.") % {"service": service},
              "error")
    except RedriveRefused as exc:
        flash(request, _("The redrive failed: %(detail)s") % {"detail": exc.detail}, "error")
    else:
        flash(request, _("Dead letter %(id)s of %(service)s was redriven.") % {"id": dead_letter_id,
                                                                                "service": service}, "success")
    return redirect("/operations#dead-letters")
