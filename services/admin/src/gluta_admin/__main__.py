"""Run the admin service: `python -m gluta_admin`."""

from gluta_admin.app import create_app
from gluta_admin.settings import AdminSettings
from gluta_kit.logging import setup_logging
from gluta_kit.service import run


def main() -> None:
    """Start the admin service."""
    setup_logging("admin")
    settings = AdminSettings.load()
    run(create_app(settings), settings)


if __name__ == "__main__":
    main()
