"""`gluta logs`: merge every process's JSON log file by time, filter, format, follow."""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from gluta_cli import paths
from gluta_cli.console import paint, use_colour

FOLLOW_POLL_SECONDS = 0.3
EARLIEST = datetime.min.replace(tzinfo=UTC)

LEVELS = {
    "trace": 5,
    "debug": 10,
    "info": 20,
    "notice": 25,
    "warn": 30,
    "warning": 30,
    "error": 40,
    "exception": 40,
    "critical": 50,
    "fatal": 50,
}
LEVEL_CHOICES = ["debug", "info", "warning", "error", "critical"]
LEVEL_LABELS = {
    "trace": "TRACE",
    "debug": "DEBUG",
    "info": "INFO",
    "notice": "INFO",
    "warn": "WARN",
    "warning": "WARN",
    "error": "ERROR",
    "exception": "ERROR",
    "critical": "CRIT",
    "fatal": "CRIT",
}
LEVEL_STYLES = {"DEBUG": "dim", "TRACE": "dim", "INFO": "green", "WARN": "yellow", "ERROR": "red", "CRIT": "bold_red"}
HIDDEN_KEYS = {"timestamp", "level", "event", "service", "traceId", "spanId", "logger", "color_message"}
SERVICE_WIDTH = 10

# nats-server: "[1234] 2024/11/23 21:20:00.123456 [INF] Server is ready"
NATS_LINE = re.compile(r"^\[\d+\] (\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)?) \[(\w+)\] ?(.*)$")
NATS_LEVELS = {"TRC": "trace", "DBG": "debug", "INF": "info", "WRN": "warning", "ERR": "error", "FTL": "fatal"}


def parse_timestamp(value: Any) -> datetime | None:
    """Return an aware datetime from an ISO string (naive = local time) or epoch seconds."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), tz=UTC)
        if isinstance(value, str) and value:
            ts = datetime.fromisoformat(value.strip())
            return ts if ts.tzinfo else ts.astimezone()
    except (ValueError, OverflowError, OSError):
        return None
    return None


@dataclass
class LogEntry:
    """One line of one log file, parsed when it is JSON (or a nats-server line)."""

    source: str  # file stem: "product", "product-1", "broker"
    file_index: int
    line_no: int
    raw: str
    data: dict[str, Any] | None = None
    ts: datetime | None = None  # the line's own time
    sort_ts: datetime = EARLIEST  # own time, or the previous line's of the same file
    level: str | None = None
    event: str | None = None

    @property
    def service(self) -> str | None:
        """Return the `service` field of a JSON line."""
        value = self.data.get("service") if self.data else None
        return str(value) if value is not None else None

    @property
    def trace_id(self) -> str | None:
        """Return the `traceId` field of a JSON line."""
        value = self.data.get("traceId") if self.data else None
        return str(value) if value else None

    def sort_key(self) -> tuple[datetime, int, int]:
        """Return the merge order: time, then file, then position in the file."""
        return (self.sort_ts, self.file_index, self.line_no)


def parse_line(raw: str, source: str, file_index: int, line_no: int) -> LogEntry:
    """Parse one log line; lines that are neither JSON nor nats-server keep only their text."""
    entry = LogEntry(source, file_index, line_no, raw)
    text = raw.strip()
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            entry.data = obj
            entry.ts = parse_timestamp(obj.get("timestamp"))
            level = obj.get("level")
            entry.level = str(level).lower() if level is not None else None
            event = obj.get("event", obj.get("message"))
            entry.event = str(event) if event is not None else None
            return entry
    match = NATS_LINE.match(text)
    if match:
        try:
            entry.ts = datetime.strptime(match.group(1), "%Y/%m/%d %H:%M:%S.%f").astimezone()
        except ValueError:
            entry.ts = None
        entry.level = NATS_LEVELS.get(match.group(2), match.group(2).lower())
        entry.event = match.group(3)
    return entry


@dataclass
class _FileState:
    index: int
    source: str
    offset: int = 0
    inode: int | None = None
    partial: bytes = b""
    line_no: int = 0
    last_ts: datetime = EARLIEST


@dataclass
class LogReader:
    """Read new complete lines from every `*.log` file of a folder, remembering where it stopped."""

    folder: Path
    files: dict[Path, _FileState] = field(default_factory=dict)

    def sources(self) -> list[str]:
        """Return the file stems seen so far."""
        return sorted(state.source for state in self.files.values())

    def poll(self) -> list[LogEntry]:
        """Return the lines written since the previous call (all lines on the first call)."""
        entries: list[LogEntry] = []
        if not self.folder.is_dir():
            return entries
        for path in sorted(self.folder.glob("*.log")):
            state = self.files.get(path)
            if state is None:
                state = _FileState(index=len(self.files), source=path.stem)
                self.files[path] = state
            entries.extend(self._read(path, state))
        return entries

    def _read(self, path: Path, state: _FileState) -> list[LogEntry]:
        try:
            stat = path.stat()
            if state.inode is not None and (stat.st_ino != state.inode or stat.st_size < state.offset):
                state.offset, state.partial = 0, b""  # replaced or truncated: start over
            state.inode = stat.st_ino
            if stat.st_size == state.offset:
                return []
            with open(path, "rb") as fh:
                fh.seek(state.offset)
                data = fh.read()
        except OSError:
            return []
        state.offset += len(data)
        data = state.partial + data
        *lines, state.partial = data.split(b"\n")
        entries = []
        for raw in lines:
            text = raw.decode("utf-8", errors="replace").rstrip("\r")
            if not text.strip():
                continue
            state.line_no += 1
            entry = parse_line(text, state.source, state.index, state.line_no)
            if entry.ts is not None:
                state.last_ts = entry.ts
            entry.sort_ts = entry.ts or state.last_ts
            entries.append(entry)
        return entries


def merge(entries: list[LogEntry]) -> list[LogEntry]:
    """Return entries in time order; lines without time stay right after their file's previous line."""
    return sorted(entries, key=LogEntry.sort_key)


def source_matches(source: str, service: str) -> bool:
    """Return True when a log file stem belongs to a service (`product` matches `product-1`)."""
    if source == service:
        return True
    prefix = service + "-"
    return source.startswith(prefix) and source[len(prefix) :].isdigit()


@dataclass
class LogFilter:
    """Which lines to keep."""

    service: str | None = None
    trace: str | None = None
    level: str | None = None

    def matches(self, entry: LogEntry) -> bool:
        """Return True when the entry passes every filter."""
        if self.service and not (source_matches(entry.source, self.service) or entry.service == self.service):
            return False
        if self.trace:
            trace_id = entry.trace_id
            if not trace_id:
                return False
            if trace_id != self.trace and not (len(self.trace) >= 8 and trace_id.startswith(self.trace)):
                return False
        if self.level and entry.level is not None:
            if LEVELS.get(entry.level, 20) < LEVELS.get(self.level.lower(), 0):
                return False
        return True


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return value if value and not any(c in value for c in " \t\"'=") else json.dumps(value)
    return json.dumps(value, separators=(",", ":"), default=str)


def short_trace(trace_id: str) -> str:
    """Return the first 8 characters of a trace id, with an ellipsis when cut."""
    return trace_id if len(trace_id) <= 8 else trace_id[:8] + "…"


def format_entry(entry: LogEntry, colour: bool = False) -> str:
    """Return a human-readable line: `21:03:04.123 order      INFO  checkout.placed orderId=12 traceId=ab12…`."""
    clock = entry.ts.astimezone().strftime("%H:%M:%S.%f")[:-3] if entry.ts else " " * 12
    source = entry.source.ljust(SERVICE_WIDTH)
    label = LEVEL_LABELS.get(entry.level or "", (entry.level or "").upper()[:5])
    level = paint(label.ljust(5), LEVEL_STYLES.get(label), colour)
    head = f"{paint(clock, 'dim', colour)} {paint(source, 'cyan', colour)} {level}"
    if entry.data is None:
        text = entry.event if entry.event is not None else entry.raw
        return f"{head} {text}"
    parts = [paint(entry.event or "", "bold", colour)] if entry.event else []
    blocks: list[str] = []
    for key, value in entry.data.items():
        if key in HIDDEN_KEYS or (key == "message" and entry.event == str(value)):
            continue
        if isinstance(value, str) and "\n" in value:
            blocks.append(value.rstrip("\n"))
            continue
        parts.append(f"{paint(key + '=', 'dim', colour)}{_format_value(value)}")
    if entry.trace_id:
        parts.append(paint(f"traceId={short_trace(entry.trace_id)}", "dim", colour))
    line = f"{head} {' '.join(parts)}".rstrip()
    for block in blocks:
        line += "\n" + "\n".join("    " + ln for ln in block.splitlines())
    return line


def entry_json(entry: LogEntry) -> str:
    """Return the entry as one JSON line (the original line when it already is JSON)."""
    if entry.data is not None:
        return entry.raw.strip()
    return json.dumps(
        {
            "timestamp": entry.ts.isoformat() if entry.ts else None,
            "service": entry.source,
            "level": entry.level,
            "event": entry.event,
            "raw": entry.raw,
        },
        ensure_ascii=False,
    )


def select(entries: list[LogEntry], log_filter: LogFilter, lines: int) -> list[LogEntry]:
    """Merge, filter and keep the last `lines` entries (0 = all)."""
    kept = [e for e in merge(entries) if log_filter.matches(e)]
    return kept[-lines:] if lines > 0 else kept


def run_logs(
    data_dir: Path,
    service: str | None = None,
    trace: str | None = None,
    follow: bool = False,
    lines: int = 200,
    level: str | None = None,
    as_json: bool = False,
    out: TextIO | None = None,
) -> int:
    """Print the merged logs (and keep tailing with `follow`); 1 when there is no log folder."""
    out = out or sys.stdout
    folder = paths.log_dir(data_dir)
    if not folder.is_dir() and not follow:
        print(f"no logs yet: {folder} does not exist (start with `gluta up`)", file=sys.stderr)
        return 1
    colour = use_colour(out) and not as_json
    log_filter = LogFilter(service=service, trace=trace, level=level)
    reader = LogReader(folder)

    def emit(batch: list[LogEntry]) -> None:
        for entry in batch:
            print(entry_json(entry) if as_json else format_entry(entry, colour), file=out)
        out.flush()

    emit(select(reader.poll(), log_filter, lines))
    sources = reader.sources()
    if service and sources and not any(source_matches(s, service) for s in sources) and not follow:
        print(f"(no log file for {service!r}; files: {', '.join(sources)})", file=sys.stderr)
    if not follow:
        return 0
    try:
        while True:
            time.sleep(FOLLOW_POLL_SECONDS)
            emit(select(reader.poll(), log_filter, 0))
    except KeyboardInterrupt:
        return 0
