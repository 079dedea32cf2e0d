"""`gluta status`: processes started by `gluta up`, their health and memory."""

from __future__ import annotations

import argparse

from gluta_cli import paths
from gluta_cli.status import run_status


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `gluta status`."""
    parser = subparsers.add_parser("status", help="show each process: pid, port, alive, health, memory")
    paths.add_data_dir_option(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run `gluta status`."""
    return run_status(paths.resolve_data_dir(args.data_dir), as_json=args.json)
