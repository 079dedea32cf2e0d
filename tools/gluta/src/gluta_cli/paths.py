"""Data dir resolution, fixed ports, and the launcher's `run/processes.json` record."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

HOST = "127.0.0.1"

BROKER = "broker"
SERVICE_PORTS: dict[str, int] = {
    "discovery": 8761,
    "config": 8888,
    "user": 8101,
    "product": 8102,
    "order": 8103,
    "gateway": 8000,
    "storefront": 8090,
    "admin": 8085,
}
BROKER_PORT = 4290
ALL_PORTS: dict[str, int] = {BROKER: BROKER_PORT, **SERVICE_PORTS}


def add_data_dir_option(parser: argparse.ArgumentParser) -> None:
    """Add `--data-dir` to a subcommand without overriding the top-level value when absent."""
    parser.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="data directory (default: $GLUTA_DATA_DIR or ./var)",
    )


def resolve_data_dir(arg: str | os.PathLike[str] | None = None) -> Path:
    """Return the absolute data dir: the argument, else $GLUTA_DATA_DIR, else ./var."""
    raw = arg or os.environ.get("GLUTA_DATA_DIR") or "var"
    return Path(raw).expanduser().resolve()


def log_dir(data_dir: Path) -> Path:
    """Return the folder holding one `<name>.log` per process."""
    return data_dir / "log"


def run_dir(data_dir: Path) -> Path:
    """Return the folder holding the launcher's runtime files."""
    return data_dir / "run"


def mail_dir(data_dir: Path) -> Path:
    """Return the folder where the services drop `.eml` files."""
    return data_dir / "mail"


def processes_file(data_dir: Path) -> Path:
    """Return the path of `processes.json`."""
    return run_dir(data_dir) / "processes.json"


def log_file_name(name: str, instance: int) -> str:
    """Return the log file name of one process: `product.log`, `product-1.log`..."""
    return f"{name}.log" if instance == 0 else f"{name}-{instance}.log"


@dataclass
class ProcessRecord:
    """One started process as written to `processes.json`."""

    name: str
    instance: int
    pid: int
    port: int
    url: str
    log: str
    createTime: float | None = field(default=None)  # noqa: N815 - JSON key

    def to_json(self) -> dict[str, Any]:
        """Return the JSON object of this record."""
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ProcessRecord:
        """Build a record from a JSON object, ignoring unknown keys."""
        return cls(
            name=str(obj["name"]),
            instance=int(obj.get("instance", 0)),
            pid=int(obj["pid"]),
            port=int(obj.get("port", 0)),
            url=str(obj.get("url", "")),
            log=str(obj.get("log", "")),
            createTime=obj.get("createTime"),
        )

    def process(self) -> psutil.Process | None:
        """Return the live process of this record, or None when it is gone or the pid was reused."""
        try:
            proc = psutil.Process(self.pid)
            if self.createTime is not None and abs(proc.create_time() - self.createTime) > 1.0:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None


def write_processes(data_dir: Path, records: list[ProcessRecord]) -> Path:
    """Write `processes.json` atomically and return its path."""
    path = processes_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps([r.to_json() for r in records], indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_processes(data_dir: Path) -> list[ProcessRecord] | None:
    """Return the records of `processes.json`, or None when it is absent or unreadable."""
    path = processes_file(data_dir)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(raw, list):
        return None
    records = []
    for obj in raw:
        try:
            records.append(ProcessRecord.from_json(obj))
        except (KeyError, TypeError, ValueError):
            continue
    return records


def remove_processes(data_dir: Path) -> None:
    """Delete `processes.json` if present."""
    processes_file(data_dir).unlink(missing_ok=True)


def stack_file(data_dir: Path) -> Path:
    """Return the path of `stack.json`: what the running stack runs on (profile, bus, database, cache)."""
    return run_dir(data_dir) / "stack.json"


def write_stack(data_dir: Path, summary: dict[str, str]) -> None:
    """Write `stack.json` for `gluta status`."""
    path = stack_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def read_stack(data_dir: Path) -> dict[str, str]:
    """Return the summary of the running stack (empty when none is recorded)."""
    try:
        raw = json.loads(stack_file(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def remove_stack(data_dir: Path) -> None:
    """Delete `stack.json` if present."""
    stack_file(data_dir).unlink(missing_ok=True)


def service_url(data_dir: Path, name: str) -> str:
    """Return the base URL of a service: instance 0 from `processes.json`, else its fixed port."""
    for record in read_processes(data_dir) or []:
        if record.name == name and record.instance == 0 and record.url:
            return record.url.rstrip("/")
    return f"http://{HOST}:{SERVICE_PORTS[name]}"


def internal_headers() -> dict[str, str]:
    """Return headers for internal endpoints (the internal token when one is configured)."""
    token = os.environ.get("GLUTA_INTERNAL_TOKEN")
    return {"X-Internal-Token": token} if token else {}
