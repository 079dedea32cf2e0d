"""Run the user service: `python -m gluta_user`."""

from gluta_kit.logging import setup_logging
from gluta_kit.service import run

from gluta_user.app import create_app
from gluta_user.settings import UserSettings


def main() -> None:
    """Start the user service."""
    setup_logging("user")
    settings = UserSettings.load()
    run(create_app(settings), settings)


if __name__ == "__main__":
    main()
