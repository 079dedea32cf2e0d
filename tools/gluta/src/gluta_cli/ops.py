"""Small operator actions: refresh the configuration, create an admin account."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any, TextIO

import httpx

from gluta_cli import paths
from gluta_cli.launcher import common_env, http_client


def run_config_refresh(data_dir: Path, out: TextIO | None = None) -> int:
    """POST /refresh to the config service and print the version it now serves."""
    out = out or sys.stdout
    url = f"{paths.service_url(data_dir, 'config')}/refresh"
    try:
        with http_client(timeout=10.0) as client:
            response = client.post(url, headers=paths.internal_headers())
    except httpx.HTTPError as exc:
        print(f"config: cannot reach {url}: {exc}", file=sys.stderr)
        return 1
    if not response.is_success:
        print(f"config: refresh failed: HTTP {response.status_code}: {response.text[:200]}", file=sys.stderr)
        return 1
    try:
        body: Any = response.json()
    except ValueError:
        body = {}
    version = body.get("version") if isinstance(body, dict) else None
    print(f"config version: {version}", file=out)
    return 0


def admin_create_command(login_id: str) -> list[str]:
    """Return the command line that creates an admin account."""
    return [sys.executable, "-m", "gluta_user", "admin-create", login_id]


def run_admin_create(data_dir: Path, login_id: str, stdin: IO[Any] | None = None) -> int:
    """Run `python -m gluta_user admin-create LOGIN_ID` with this stdin and env; return its exit code."""
    defaults = common_env(data_dir, {}, demo=False)
    defaults.pop("GLUTA_DEMO")
    env = {**defaults, **os.environ, "GLUTA_DATA_DIR": str(data_dir)}
    return subprocess.call(admin_create_command(login_id), env=env, stdin=stdin)
