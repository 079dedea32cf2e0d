"""The discovery service: a registry of live instances, without a database or a bus."""

from fastapi import FastAPI

from gluta_discovery.registry import Registry
from gluta_discovery.router import router
from gluta_discovery.settings import DiscoverySettings
from gluta_kit.service import Service


def create_app(settings: DiscoverySettings) -> FastAPI:
    """Build the discovery app."""
    settings.discovery_url = None  # the registry does not register with itself
    service = Service(settings, uses_bus=False)
    app = service.create_app([router], title="gluta discovery")
    app.state.registry = Registry(settings.expire_after_seconds)
    return app
