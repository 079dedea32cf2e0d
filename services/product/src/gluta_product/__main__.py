"""Run the product service: `python -m gluta_product`."""

from gluta_kit.logging import setup_logging
from gluta_kit.service import run
from gluta_product.app import create_app
from gluta_product.settings import ProductSettings


def main() -> None:
    """Start the product service."""
    setup_logging("product")
    settings = ProductSettings.load()
    run(create_app(settings), settings)


if __name__ == "__main__":
    main()
