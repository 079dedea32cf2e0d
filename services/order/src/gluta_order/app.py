"""The order service (skeleton: health endpoints only until its issue is built)."""

from pathlib import Path

from fastapi import FastAPI
from gluta_kit.service import Service

from gluta_order.settings import OrderSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: OrderSettings) -> FastAPI:
    """Build the order app."""
    service = Service(settings, migrations=MIGRATIONS)
    return service.create_app([], title="gluta order-service")
