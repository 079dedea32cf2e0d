"""The storefront web front-end (skeleton: health endpoints only until its issue is built)."""

from fastapi import FastAPI
from gluta_kit.service import Service

from gluta_storefront.settings import StorefrontSettings


def create_app(settings: StorefrontSettings) -> FastAPI:
    """Build the storefront app."""
    service = Service(settings, uses_bus=False)
    return service.create_app([], title="gluta storefront")
