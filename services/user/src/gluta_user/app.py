"""The user service (skeleton: health endpoints only until its issue is built)."""

from pathlib import Path

from fastapi import FastAPI
from gluta_kit.service import Service

from gluta_user.settings import UserSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: UserSettings) -> FastAPI:
    """Build the user app."""
    service = Service(settings, migrations=MIGRATIONS)
    return service.create_app([], title="gluta user-service")
