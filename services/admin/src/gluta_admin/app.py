"""The admin web front-end (skeleton: health endpoints only until its issue is built)."""

from fastapi import FastAPI
from gluta_kit.service import Service

from gluta_admin.settings import AdminSettings


def create_app(settings: AdminSettings) -> FastAPI:
    """Build the admin app."""
    service = Service(settings, uses_bus=False)
    return service.create_app([], title="gluta admin")
