"""Run the API gateway: `python -m gluta_gateway`."""

from gluta_gateway.app import create_app
from gluta_gateway.server import GatewayHttpProtocol
from gluta_gateway.settings import GatewaySettings
from gluta_kit.logging import setup_logging
from gluta_kit.service import run


def main() -> None:
    """Start the gateway."""
    setup_logging("gateway")
    settings = GatewaySettings.load()
    run(create_app(settings), settings, http=GatewayHttpProtocol)


if __name__ == "__main__":
    main()
