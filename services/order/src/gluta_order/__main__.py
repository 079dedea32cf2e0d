"""Run the order service: `python -m gluta_order`."""

from gluta_kit.logging import setup_logging
from gluta_kit.service import run
from gluta_order.app import create_app
from gluta_order.settings import OrderSettings


def main() -> None:
    """Start the order service."""
    setup_logging("order")
    settings = OrderSettings.load()
    run(create_app(settings), settings)


if __name__ == "__main__":
    main()
