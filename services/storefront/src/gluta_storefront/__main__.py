"""Run the storefront service: `python -m gluta_storefront`."""

from gluta_kit.logging import setup_logging
from gluta_kit.service import run
from gluta_storefront.app import create_app
from gluta_storefront.settings import StorefrontSettings


def main() -> None:
    """Start the storefront service."""
    setup_logging("storefront")
    settings = StorefrontSettings.load()
    run(create_app(settings), settings)


if __name__ == "__main__":
    main()
