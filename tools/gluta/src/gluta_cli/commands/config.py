"""`gluta config refresh`: make the config service reread its repository."""

from __future__ import annotations

import argparse

from gluta_cli import paths
from gluta_cli.ops import run_config_refresh


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `gluta config refresh`."""
    parser = subparsers.add_parser("config", help="central configuration")
    paths.add_data_dir_option(parser)
    actions = parser.add_subparsers(dest="config_command", metavar="{refresh}", required=True)
    refresh = actions.add_parser("refresh", help="reload the config repository and print the new version")
    paths.add_data_dir_option(refresh)
    refresh.set_defaults(func=run_refresh)


def run_refresh(args: argparse.Namespace) -> int:
    """Run `gluta config refresh`."""
    return run_config_refresh(paths.resolve_data_dir(args.data_dir))
