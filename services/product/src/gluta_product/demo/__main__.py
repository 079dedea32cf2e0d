"""Seed the demo catalog in a short-lived process: `python -m gluta_product.demo` (settings as JSON on stdin).

The product service starts this at start in demo mode, so that drawing the pictures (Pillow) and the other
one-off work never load into the long-running service (idle memory). The rows, outbox events included, go
to the service's database; the service's own relay publishes the events.
"""

from __future__ import annotations

import asyncio
import sys

from gluta_kit.logging import setup_logging
from gluta_kit.service import Service
from gluta_product.app import MIGRATIONS, image_storage
from gluta_product.demo.service import seed_demo_data
from gluta_product.settings import ProductSettings


async def _main(settings: ProductSettings) -> None:
    service = Service(settings, migrations=MIGRATIONS, uses_bus=False)
    assert service.db is not None
    try:
        await seed_demo_data(service, image_storage(settings))
    finally:
        await service.db.dispose()


def main() -> None:
    """Read the service's settings from stdin and seed."""
    settings = ProductSettings.model_validate_json(sys.stdin.buffer.read())
    setup_logging(ProductSettings.service_name, settings.log_level)
    asyncio.run(_main(settings))


if __name__ == "__main__":
    main()
