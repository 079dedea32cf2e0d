"""Operator commands: `python -m gluta_user admin-create LOGIN_ID` and `python -m gluta_user rotate-keys`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import TextIO

from pydantic import TypeAdapter, ValidationError

from gluta_kit.db import Database
from gluta_kit.logging import setup_logging
from gluta_user.admin.exceptions import AdminExists
from gluta_user.admin.service import create_admin
from gluta_user.auth.keys import purge_keys, resolve_secret, rotate_keys
from gluta_user.bootstrap import build_hasher
from gluta_user.clock import SystemClock
from gluta_user.settings import UserSettings
from gluta_user.validation import LoginId, NewPassword


def read_password(stdin: TextIO) -> str:
    """Read the password: prompted twice on a terminal, else the first line of stdin."""
    if stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise ValueError("the passwords differ")
        return first
    return stdin.readline().rstrip("\r\n")


async def _open(settings: UserSettings) -> Database:
    from gluta_user.app import MIGRATIONS

    db = Database(settings.resolved_database_url)
    await db.migrate(MIGRATIONS)
    return db


async def admin_create(settings: UserSettings, login_id: str, password: str, out: TextIO) -> int:
    """Create an admin account; 0 when created, 1 when the login id is taken."""
    db = await _open(settings)
    try:
        admin_id = await create_admin(db, build_hasher(settings), SystemClock(), login_id, password)
    except AdminExists:
        print(f"admin-create: an admin {login_id!r} exists already", file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    print(f"admin {login_id!r} created (id {admin_id})", file=out)
    return 0


async def rotate(settings: UserSettings, lead_seconds: float, out: TextIO) -> int:
    """Add a new signing key; print when it starts signing."""
    db = await _open(settings)
    clock = SystemClock()
    try:
        row = await rotate_keys(db, resolve_secret(settings), clock, lead_seconds)
        keep = settings.access_token_ttl_seconds + settings.key_publish_grace_seconds + 24 * 3600
        purged = await purge_keys(db, clock, keep)
    finally:
        await db.dispose()
    print(f"new signing key {row.kid} signs from {row.signs_from.isoformat()}; "
          f"the previous keys stay published until their tokens expire ({purged} old keys purged)", file=out)
    return 0


def main(argv: list[str] | None = None, *, stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    """Run the user service, or one of its operator commands."""
    parser = argparse.ArgumentParser(prog="python -m gluta_user", description="the Glutathione user service")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the service (the default)")
    create = commands.add_parser("admin-create", help="create an admin; the password is read from stdin")
    create.add_argument("login_id", metavar="LOGIN_ID")
    rotate_parser = commands.add_parser("rotate-keys", help="add a new signing key without logging anyone out")
    rotate_parser.add_argument("--now", action="store_true", help="sign with the new key at once (no lead time)")
    args = parser.parse_args(argv)
    stdin, out = stdin or sys.stdin, out or sys.stdout

    if args.command in (None, "serve"):
        from gluta_kit.service import run
        from gluta_user.app import create_app

        setup_logging("user")
        settings = UserSettings.load()
        run(create_app(settings), settings)  # type: ignore[arg-type]
        return 0

    setup_logging("user", "WARNING")
    settings = UserSettings.load()  # type: ignore[assignment]
    if args.command == "admin-create":
        try:
            login_id = TypeAdapter(LoginId).validate_python(args.login_id)
        except ValidationError:
            print("admin-create: the login id must be 4-20 of a-z, 0-9 and _", file=sys.stderr)
            return 2
        try:
            password = TypeAdapter(NewPassword).validate_python(read_password(stdin))
        except (ValidationError, ValueError):
            print("admin-create: the password must be 8-64 characters with a letter and a digit", file=sys.stderr)
            return 2
        return asyncio.run(admin_create(settings, login_id, password, out))  # type: ignore[arg-type]
    lead = 0.0 if args.now else settings.key_rotation_lead_seconds  # type: ignore[attr-defined]
    return asyncio.run(rotate(settings, lead, out))  # type: ignore[arg-type]
