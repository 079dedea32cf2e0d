"""`gluta logs`: every service's log lines merged by time."""

from __future__ import annotations

import argparse

from gluta_cli import paths
from gluta_cli.logs import LEVEL_CHOICES, run_logs


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `gluta logs`."""
    parser = subparsers.add_parser(
        "logs",
        help="show the logs of all services merged by time",
        description="Merge <data_dir>/log/*.log by timestamp and print them readably.",
    )
    paths.add_data_dir_option(parser)
    parser.add_argument("service", nargs="?", help="only this service (e.g. order, or product-1 for one instance)")
    parser.add_argument("--trace", metavar="ID", help="only lines of this trace id (one request across services)")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    parser.add_argument(
        "-n", "--lines", type=_non_negative, default=200, metavar="N", help="last N lines (default 200, 0 = all)"
    )
    parser.add_argument("--level", type=str.lower, choices=LEVEL_CHOICES, help="only lines at this level or above")
    parser.add_argument("--json", action="store_true", help="print the JSON lines as they are")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run `gluta logs`."""
    return run_logs(
        paths.resolve_data_dir(args.data_dir),
        service=args.service,
        trace=args.trace,
        follow=args.follow,
        lines=args.lines,
        level=args.level,
        as_json=args.json,
    )
