"""`gluta up`: start the whole system locally and supervise it."""

from __future__ import annotations

import argparse
import sys

from gluta_cli import launcher, paths


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `gluta up`."""
    parser = subparsers.add_parser(
        "up",
        help="start the broker and every service, wait until ready, supervise (Ctrl-C stops)",
        description="Start NATS and every service as local processes, wait until all are ready, "
        "print the URLs and demo accounts, and keep them running until Ctrl-C or SIGTERM.",
    )
    paths.add_data_dir_option(parser)
    parser.add_argument("--scale", action="append", metavar="NAME=N", help="run N instances of a service (repeatable)")
    parser.add_argument("--no-demo", action="store_true", help="start without demo data (GLUTA_DEMO=false)")
    parser.add_argument(
        "--only", action="append", metavar="NAME,...", help="start only these services (plus the broker)"
    )
    parser.add_argument(
        "--ready-timeout", type=float, default=60.0, metavar="SECONDS", help="how long to wait for /ready (60)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run `gluta up`."""
    try:
        options = launcher.UpOptions(
            data_dir=paths.resolve_data_dir(args.data_dir),
            scale=launcher.parse_scale(args.scale),
            only=launcher.parse_only(args.only),
            demo=not args.no_demo,
            ready_timeout=args.ready_timeout,
        )
    except launcher.UsageError as exc:
        print(f"gluta up: {exc}", file=sys.stderr)
        return 2
    return launcher.run_up(options)
