"""`gluta janitor`: remove files and rows soft-deleted longer ago than the retention."""

from __future__ import annotations

import argparse

from gluta_cli import paths


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `gluta janitor run` and `gluta janitor schedule`."""
    parser = subparsers.add_parser("janitor", help="remove soft-deleted rows and their files after the retention")
    paths.add_data_dir_option(parser)
    actions = parser.add_subparsers(dest="janitor_command", metavar="{run,schedule}", required=True)

    run = actions.add_parser(
        "run",
        help="run the janitor now on every service that owns files",
        description="Ask every service in `janitor_services` (default: product) to remove the rows soft-deleted "
        "longer ago than the retention and their files; print and log the counts "
        "(<data-dir>/log/janitor.log). Services are found through $GLUTA_STATIC_INSTANCES, "
        "processes.json, discovery, then the default port.",
    )
    paths.add_data_dir_option(run)
    run.add_argument("--older-than", metavar="AGE", help="retention, e.g. 30d or 4w (default: janitor_older_than_days)")
    run.add_argument("--dry-run", action="store_true", help="count what would be removed, remove nothing")
    run.add_argument("--service", action="append", metavar="NAME", help="only this service (repeatable)")
    run.add_argument("--json", action="store_true", help="print the JSON log lines instead of a table")
    run.set_defaults(func=run_run)

    schedule = actions.add_parser("schedule", help="show the cron expression in force and the next run times")
    paths.add_data_dir_option(schedule)
    schedule.add_argument("-n", "--count", type=int, default=5, help="how many next runs to show (5)")
    schedule.set_defaults(func=run_schedule)


def run_run(args: argparse.Namespace) -> int:
    """Run `gluta janitor run`."""
    from gluta_cli.janitor import run_janitor_command

    return run_janitor_command(paths.resolve_data_dir(args.data_dir), older_than=args.older_than,
                               dry_run=args.dry_run, services=args.service, as_json=args.json)


def run_schedule(args: argparse.Namespace) -> int:
    """Run `gluta janitor schedule`."""
    from gluta_cli.janitor import run_schedule_command

    return run_schedule_command(paths.resolve_data_dir(args.data_dir), count=max(1, min(args.count, 100)))
