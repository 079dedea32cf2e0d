"""`gluta admin create`: create an operator account (password read from stdin)."""

from __future__ import annotations

import argparse

from gluta_cli import paths
from gluta_cli.ops import run_admin_create


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `gluta admin create`."""
    parser = subparsers.add_parser("admin", help="operator accounts")
    paths.add_data_dir_option(parser)
    actions = parser.add_subparsers(dest="admin_command", metavar="{create}", required=True)
    create = actions.add_parser(
        "create",
        help="create an admin account; the password is read from stdin",
        description="Runs `python -m gluta_user admin-create LOGIN_ID` with this stdin and environment.",
    )
    paths.add_data_dir_option(create)
    create.add_argument("login_id", metavar="LOGIN_ID")
    create.set_defaults(func=run_create)


def run_create(args: argparse.Namespace) -> int:
    """Run `gluta admin create`."""
    return run_admin_create(paths.resolve_data_dir(args.data_dir), args.login_id)
