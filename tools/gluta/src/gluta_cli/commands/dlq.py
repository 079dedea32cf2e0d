"""`gluta dlq`: dead-lettered events of user, product and order."""

from __future__ import annotations

import argparse

from gluta_cli import paths
from gluta_cli.dlq import DLQ_SERVICES, run_dlq_list, run_dlq_redrive


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `gluta dlq list` and `gluta dlq redrive`."""
    parser = subparsers.add_parser("dlq", help="list or redrive dead-lettered events")
    paths.add_data_dir_option(parser)
    actions = parser.add_subparsers(dest="dlq_command", metavar="{list,redrive}", required=True)

    listing = actions.add_parser("list", help="list dead letters of user, product and order")
    paths.add_data_dir_option(listing)
    listing.add_argument("--service", choices=DLQ_SERVICES, help="only this service")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=run_list)

    redrive = actions.add_parser("redrive", help="publish one dead letter again")
    paths.add_data_dir_option(redrive)
    redrive.add_argument("id", help="dead letter id (from `gluta dlq list`)")
    redrive.add_argument("--service", choices=DLQ_SERVICES, required=True, help="service that holds it")
    redrive.set_defaults(func=run_redrive)


def run_list(args: argparse.Namespace) -> int:
    """Run `gluta dlq list`."""
    return run_dlq_list(paths.resolve_data_dir(args.data_dir), service=args.service, as_json=args.json)


def run_redrive(args: argparse.Namespace) -> int:
    """Run `gluta dlq redrive`."""
    return run_dlq_redrive(paths.resolve_data_dir(args.data_dir), args.id, args.service)
