"""The discovery service: a registry of live instances, without a database or a bus."""

from starlette.applications import Starlette

from gluta_discovery.registry import Registry
from gluta_discovery.router import routes
from gluta_discovery.settings import DiscoverySettings
from gluta_kit.service import Service


def create_app(settings: DiscoverySettings) -> Starlette:
    """Build the discovery app (Starlette: its five routes check their input themselves)."""
    settings.discovery_url = None  # the registry does not register with itself
    service = Service(settings, uses_bus=False)
    app = service.create_starlette_app(routes)
    app.state.registry = Registry(settings.expire_after_seconds)
    return app
