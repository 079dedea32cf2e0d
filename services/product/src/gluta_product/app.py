"""The product service (skeleton: health endpoints only until its issue is built)."""

from pathlib import Path

from fastapi import FastAPI
from gluta_kit.service import Service

from gluta_product.settings import ProductSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ProductSettings) -> FastAPI:
    """Build the product app."""
    service = Service(settings, migrations=MIGRATIONS)
    return service.create_app([], title="gluta product-service")
