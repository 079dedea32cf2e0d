"""The config service: merged YAML from a git-tracked folder, and refresh over the bus."""

from fastapi import FastAPI

from gluta_config.repository import ConfigRepository
from gluta_config.router import router
from gluta_config.settings import ConfigSettings
from gluta_kit.service import Service


def create_app(settings: ConfigSettings) -> FastAPI:
    """Build the config app."""
    service = Service(settings)
    app = service.create_app([router], title="gluta config")
    app.state.repository = ConfigRepository(settings.config_repo)
    return app
