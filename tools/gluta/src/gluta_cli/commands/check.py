"""`gluta check`: the system's invariants against the running system."""

from __future__ import annotations

import argparse

from gluta_cli import paths


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `gluta check`."""
    parser = subparsers.add_parser(
        "check",
        help="prove the invariants (stock, sales, money, coupons, sagas, outbox, inbox, dead letters)",
        description="Ask user, product and order for their figures (/internal/check; $GLUTA_INTERNAL_TOKEN when "
        "set) and print one line per invariant. Services are found through --url, $GLUTA_STATIC_INSTANCES, "
        "processes.json, discovery ($GLUTA_DISCOVERY_URL), then the default port. Exit status: 0 all hold, "
        "1 one is violated, 3 a service could not be asked.",
    )
    paths.add_data_dir_option(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--settle", type=float, default=10.0, metavar="SECONDS",
                        help="report a violation only if it is still there after asking again for this long (10)")
    parser.add_argument("--outbox-max-age", type=float, default=60.0, metavar="SECONDS",
                        help="an unsent event older than this is a violation (60)")
    parser.add_argument("--stuck-after", type=float, default=60.0, metavar="SECONDS",
                        help="a consumer with messages waiting that acknowledged nothing for this long is stuck (60)")
    parser.add_argument("--url", action="append", metavar="SERVICE=URL",
                        help="ask this instance of a service (repeatable), e.g. order=http://10.0.0.5:8103")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run `gluta check`."""
    from gluta_cli.check import run_check_command

    return run_check_command(paths.resolve_data_dir(args.data_dir), as_json=args.json, settle=args.settle,
                             outbox_max_age=args.outbox_max_age, stuck_after=args.stuck_after, urls=args.url)
