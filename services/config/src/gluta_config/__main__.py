"""Run the config service: `python -m gluta_config`."""

from gluta_config.app import create_app
from gluta_config.settings import ConfigSettings
from gluta_kit.logging import setup_logging
from gluta_kit.service import run


def main() -> None:
    """Start the config service."""
    setup_logging("config")
    settings = ConfigSettings.load()
    run(create_app(settings), settings)


if __name__ == "__main__":
    main()
