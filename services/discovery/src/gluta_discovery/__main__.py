"""Run the discovery service: `python -m gluta_discovery`."""

from gluta_discovery.app import create_app
from gluta_discovery.settings import DiscoverySettings
from gluta_kit.logging import setup_logging
from gluta_kit.service import run


def main() -> None:
    """Start the discovery service."""
    setup_logging("discovery")
    settings = DiscoverySettings.load()
    run(create_app(settings), settings)


if __name__ == "__main__":
    main()
