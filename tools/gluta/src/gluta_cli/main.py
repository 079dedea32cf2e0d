"""The `gluta` command: argparse wiring of every command group."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from gluta_cli.commands import admin, config, dlq, janitor, logs, mail, status, up

# Command groups, in `gluta --help` order. Each module has `register(subparsers)` that adds its
# subcommand(s) and sets `func(args) -> int` on them. Register new groups (e.g. janitor) here.
COMMAND_GROUPS: list[ModuleType] = [up, status, logs, dlq, config, admin, mail, janitor]


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every command group registered."""
    parser = argparse.ArgumentParser(
        prog="gluta",
        description="Run and operate Glutathione locally: launcher, status, logs, dead letters, admin tools.",
    )
    parser.add_argument(
        "--data-dir", default=None, metavar="DIR", help="data directory (default: $GLUTA_DATA_DIR or ./var)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in COMMAND_GROUPS:
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the command, and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "up":  # `gluta up` sets up its own environment
        from gluta_cli import paths, production

        production.export_operator_env(paths.resolve_data_dir(args.data_dir))
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `gluta logs | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
