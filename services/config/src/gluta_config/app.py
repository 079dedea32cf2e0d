"""The config service: merged YAML from a git-tracked folder, and refresh over the bus."""

from starlette.applications import Starlette

from gluta_config.repository import ConfigRepository
from gluta_config.router import routes
from gluta_config.settings import ConfigSettings
from gluta_kit.service import Service


def create_app(settings: ConfigSettings) -> Starlette:
    """Build the config app (Starlette: its three routes check their input themselves)."""
    service = Service(settings)
    app = service.create_starlette_app(routes)
    app.state.repository = ConfigRepository(settings.config_repo)
    return app
