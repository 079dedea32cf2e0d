"""`gluta mail`: mails written by the services as `.eml` files."""

from __future__ import annotations

import argparse

from gluta_cli import paths
from gluta_cli.mail import run_mail_list, run_mail_show


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `gluta mail` and `gluta mail show`."""
    parser = subparsers.add_parser("mail", help="list the newest mails, or show one (`gluta mail show latest`)")
    paths.add_data_dir_option(parser)
    parser.add_argument("-n", "--lines", type=int, default=20, metavar="N", help="how many (default 20, 0 = all)")
    parser.set_defaults(func=run_list)
    actions = parser.add_subparsers(dest="mail_command", metavar="{show}")
    show = actions.add_parser("show", help="print one mail")
    paths.add_data_dir_option(show)
    show.add_argument("which", metavar="FILE|latest", help="file name in the mail folder, a path, or `latest`")
    show.set_defaults(func=run_show)


def run_list(args: argparse.Namespace) -> int:
    """Run `gluta mail`."""
    return run_mail_list(paths.resolve_data_dir(args.data_dir), lines=args.lines)


def run_show(args: argparse.Namespace) -> int:
    """Run `gluta mail show`."""
    return run_mail_show(paths.resolve_data_dir(args.data_dir), args.which)
