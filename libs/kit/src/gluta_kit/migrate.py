"""Apply a service's migrations in a short-lived process: `python -m gluta_kit.migrate URL SCRIPTS [TABLE]`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path


async def in_subprocess(url: str, scripts: str | Path, version_table: str) -> None:
    """Run this module in a child process for `url`; raise RuntimeError when the migrations failed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gluta_kit.migrate", url, str(scripts), version_table)
    if await process.wait() != 0:
        raise RuntimeError(f"migrations failed for {scripts}")


async def _main(url: str, scripts: str, version_table: str) -> None:
    from gluta_kit.db import Database  # here, not at the top: a service imports this module for `in_subprocess`

    db = Database(url)
    try:
        await db.migrate(scripts, version_table)
    finally:
        await db.dispose()


def main() -> None:
    """Migrate the database at URL with the Alembic scripts at SCRIPTS."""
    if len(sys.argv) < 3:
        raise SystemExit("usage: python -m gluta_kit.migrate URL SCRIPTS [VERSION_TABLE]")
    asyncio.run(_main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "alembic_version"))


if __name__ == "__main__":
    main()
