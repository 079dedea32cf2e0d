"""`gluta status`: what the launcher started, whether it is alive and healthy, and its memory."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import urlparse

import psutil

from gluta_cli import paths
from gluta_cli.console import format_table, paint, use_colour
from gluta_cli.launcher import http_client, http_ok, tcp_ok
from gluta_cli.paths import ProcessRecord


@dataclass
class ProcessStatus:
    """Status of one process from `processes.json`."""

    name: str
    instance: int
    pid: int
    port: int
    url: str
    alive: bool
    health: str  # "ok" | "down"
    rssMb: float  # noqa: N815 - JSON key


def rss_mb(proc: psutil.Process) -> float:
    """Return the resident memory of a process and all its descendants, in MB."""
    total = 0
    for p in [proc, *_children(proc)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / (1024 * 1024)


def _children(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return list(proc.children(recursive=True))
    except psutil.Error:
        return []


def check_health(record: ProcessRecord) -> str:
    """Return "ok" when the process answers (HTTP GET /health 200, or the broker's TCP port)."""
    parsed = urlparse(record.url)
    if parsed.scheme in ("http", "https"):
        with http_client(timeout=2.0) as client:
            return "ok" if http_ok(client, record.url.rstrip("/") + "/health") else "down"
    port = parsed.port or record.port
    return "ok" if port and tcp_ok(port, parsed.hostname or paths.HOST) else "down"


def collect(records: list[ProcessRecord]) -> list[ProcessStatus]:
    """Return the status of every record (health checks run in parallel)."""

    def one(record: ProcessRecord) -> ProcessStatus:
        proc = record.process()
        alive = proc is not None
        health = check_health(record) if alive else "down"
        rss = rss_mb(proc) if proc is not None else 0.0
        return ProcessStatus(
            record.name, record.instance, record.pid, record.port, record.url, alive, health, round(rss, 1)
        )

    if not records:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(records))) as pool:
        return list(pool.map(one, records))


def run_status(data_dir: Path, as_json: bool = False, out: TextIO | None = None) -> int:
    """Print the status table (or JSON); return 1 when nothing is running."""
    out = out or sys.stdout
    records = paths.read_processes(data_dir)
    if records is None:
        if as_json:
            print(json.dumps({"processes": [], "totalRssMb": 0.0, "running": False}), file=out)
        else:
            print(f"nothing is running (no {paths.processes_file(data_dir)}); start with `gluta up`", file=out)
        return 1
    statuses = collect(records)
    total = round(sum(s.rssMb for s in statuses), 1)
    running = any(s.alive for s in statuses)
    stack = paths.read_stack(data_dir)
    if as_json:
        body = {"processes": [asdict(s) for s in statuses], "totalRssMb": total, "running": running,
                "stack": stack}
        print(json.dumps(body, indent=2), file=out)
        return 0 if running else 1
    colour = use_colour(out)
    for key, value in stack.items():  # what the stack runs on, above the table
        print(f"{key + ':':<9} {value}", file=out)
    rows = []
    for s in statuses:
        alive = paint("yes", "green", colour) if s.alive else paint("no", "red", colour)
        health = paint(s.health, "green" if s.health == "ok" else "red", colour)
        rows.append([s.name, s.instance, s.pid, s.port, alive, health, f"{s.rssMb:.1f}"])
    print(format_table(["NAME", "INST", "PID", "PORT", "ALIVE", "HEALTH", "RSS MB"], rows), file=out)
    alive_count = sum(1 for s in statuses if s.alive)
    print(f"total RSS: {total:.1f} MB ({alive_count}/{len(statuses)} processes alive)", file=out)
    if not running:
        print("nothing is running (processes.json is stale); start with `gluta up`", file=out)
        return 1
    return 0
