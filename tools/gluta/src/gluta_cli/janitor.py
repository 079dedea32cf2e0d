"""`gluta janitor`: ask every service that owns files to remove what was soft-deleted too long ago.

Each service does the work on its own database through its internal endpoint
`POST /internal/janitor/run?olderThanDays=N&dryRun=BOOL` (answering `{found, filesRemoved, rowsRemoved,
bytesFreed}`); the janitor never reads a service's tables. The same run is started three ways:
`gluta janitor run` by hand, `JanitorSchedule` inside `gluta up` (local mode, cron from the config
service), and `deploy/crontab` / the Kubernetes CronJob in production.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gluta_cli import paths
from gluta_cli.console import format_table
from gluta_cli.instances import instance_urls
from gluta_kit.settings import ConfigServiceSource

# The services that own files and serve /internal/janitor/run: the default of `janitor_services`.
# A new service that keeps files adds its name here (or in config-repo/janitor.yml).
JANITOR_SERVICES: list[str] = ["product"]

DEFAULT_CRON = "0 1 * * 1"  # Monday 01:00, as in the original system
DISABLED = {"", "off", "none", "disabled"}
CONFIG_NAME = "janitor"  # GET /config/janitor/<profile> on the config service
LOG_NAME = "janitor"  # <data_dir>/log/janitor.log, shown by `gluta logs janitor`
STATE_FILE = "janitor-schedule.json"  # <data_dir>/run/: when the schedule last ran

_remote_values: ContextVar[dict[str, Any] | None] = ContextVar("janitor_remote_values", default=None)


class JanitorSettings(BaseSettings):
    """What the janitor needs: defaults < config service (`janitor.yml`) < environment (`GLUTA_<FIELD>`)."""

    model_config = SettingsConfigDict(env_prefix="GLUTA_", extra="ignore")

    profile: str = "local"
    discovery_url: str | None = "http://127.0.0.1:8761"
    static_instances: dict[str, list[str]] = Field(default_factory=dict)
    internal_token: str | None = None
    janitor_cron: str = DEFAULT_CRON
    janitor_older_than_days: int = Field(default=30, ge=0, le=3650)
    janitor_services: list[str] = Field(default_factory=lambda: list(JANITOR_SERVICES))
    janitor_timeout_seconds: float = Field(default=300.0, gt=0, le=3600)
    janitor_tick_seconds: float = Field(default=30.0, gt=0, le=3600)

    @field_validator("janitor_cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from croniter import croniter

        value = " ".join(value.split())
        if value.lower() not in DISABLED and not croniter.is_valid(value):
            raise ValueError(f"not a cron expression: {value!r}")
        return value

    @field_validator("janitor_services")
    @classmethod
    def _service_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.fullmatch(r"[a-z][a-z0-9-]{0,39}", name):
                raise ValueError(f"not a service name: {name!r}")
        return list(dict.fromkeys(value))

    @property
    def schedule_enabled(self) -> bool:
        """Return False when `janitor_cron` is `off` (or empty)."""
        return self.janitor_cron.lower() not in DISABLED

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, ConfigServiceSource(settings_cls, _remote_values.get() or {}))


@dataclass
class LoadedSettings:
    """Settings plus where the remote part came from (or why it could not be read)."""

    settings: JanitorSettings
    config_version: str | None = None
    config_error: str | None = None


def fetch_config(config_url: str | None, profile: str, timeout: float = 2.0) -> tuple[dict[str, Any], str | None]:
    """Return `(values, version)` of `GET /config/janitor/<profile>`; raise ValueError when unavailable."""
    if not config_url:
        return {}, None
    url = f"{config_url.rstrip('/')}/config/{CONFIG_NAME}/{profile}"
    try:
        with httpx.Client(timeout=timeout, trust_env=False) as client:
            response = client.get(url)
    except httpx.HTTPError as exc:
        raise ValueError(f"config service unreachable at {url}: {exc!r}") from exc
    if response.status_code != 200:
        raise ValueError(f"config service answered HTTP {response.status_code} at {url}")
    try:
        body = response.json()
        values = body.get("values") or {}
        if not isinstance(values, dict):
            raise TypeError("values is not a mapping")
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"config service sent an unreadable answer at {url}: {exc}") from exc
    return values, body.get("version")


def load_settings(config_url: str | None, profile: str | None = None, **overrides: Any) -> LoadedSettings:
    """Read the janitor settings, asking the config service; fall back to env + defaults when it fails.

    Raises ValidationError only when the environment (or `overrides`) itself is invalid.
    """
    profile = profile or JanitorSettings().profile
    try:
        values, version = fetch_config(config_url, profile)
    except ValueError as exc:
        return LoadedSettings(JanitorSettings(**overrides), None, str(exc))
    token = _remote_values.set(values)
    try:
        return LoadedSettings(JanitorSettings(**overrides), version, None)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        error = f"config service values rejected ({problems})"
    finally:
        _remote_values.reset(token)
    return LoadedSettings(JanitorSettings(**overrides), version, error)


def parse_older_than(text: str) -> int:
    """Parse a retention like `30d`, `4w` or `30` (days) into a number of days."""
    match = re.fullmatch(r"\s*(\d{1,5})\s*([dw]?)\s*", text.lower())
    if not match:
        raise ValueError(f"--older-than expects a number of days like 30d or 4w, got {text!r}")
    days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
    if days > 3650:
        raise ValueError("--older-than is limited to 3650 days")
    return days


# --------------------------------------------------------------------------- one run


@dataclass
class ServiceResult:
    """What one service answered (or why it could not)."""

    service: str
    url: str | None = None
    found: int = 0
    files_removed: int = 0
    rows_removed: int = 0
    bytes_freed: int = 0
    error: str | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class JanitorRun:
    """One janitor run over every service."""

    older_than_days: int
    dry_run: bool
    trigger: str
    trace_id: str = field(default_factory=lambda: secrets.token_hex(16))
    results: list[ServiceResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def total(self, name: str) -> int:
        """Return the sum of one counter over the services that answered."""
        return sum(int(getattr(r, name)) for r in self.results if r.ok)

    def log_lines(self) -> list[dict[str, Any]]:
        """Return the JSON log lines of this run: one per service, then the totals."""
        common = {"service": "janitor", "traceId": self.trace_id, "trigger": self.trigger,
                  "olderThanDays": self.older_than_days, "dryRun": self.dry_run}
        lines = []
        for r in self.results:
            line: dict[str, Any] = {
                "timestamp": _now_iso(), "level": "info" if r.ok else "error",
                "event": "janitor.service_done" if r.ok else "janitor.service_failed",
                **common, "target": r.service, "url": r.url, "durationMs": round(r.duration_ms, 1),
            }
            if r.ok:
                line.update(found=r.found, filesRemoved=r.files_removed, rowsRemoved=r.rows_removed,
                            bytesFreed=r.bytes_freed)
            else:
                line["error"] = r.error
            lines.append(line)
        lines.append({
            "timestamp": _now_iso(), "level": "info" if self.ok else "error", "event": "janitor.run_done", **common,
            "services": [r.service for r in self.results], "failed": [r.service for r in self.results if not r.ok],
            "found": self.total("found"), "filesRemoved": self.total("files_removed"),
            "rowsRemoved": self.total("rows_removed"), "bytesFreed": self.total("bytes_freed"),
        })
        return lines


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def candidate_urls(name: str, settings: JanitorSettings, data_dir: Path, *, local_only: bool = False,
                   client: httpx.Client | None = None) -> list[str]:
    """Return where to reach a service, best first: static setting, processes.json, discovery, default port.

    `local_only` (the schedule inside `gluta up`) keeps only the launcher's own processes.
    """
    return instance_urls(name, data_dir, static=settings.static_instances, discovery_url=settings.discovery_url,
                         client=client, local_only=local_only)


def _describe(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return f"HTTP {response.status_code}: {text[:300]}"


def _counter(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"answer has no valid {key!r}: {body!r}"[:300])
    return value


def call_service(client: httpx.Client, name: str, urls: list[str], *, older_than_days: int, dry_run: bool,
                 headers: dict[str, str], timeout: float) -> ServiceResult:
    """POST the janitor endpoint of one service, trying the next address only when one cannot be reached."""
    result = ServiceResult(name)
    if not urls:
        result.error = "no running instance found"
        return result
    params = {"olderThanDays": str(older_than_days), "dryRun": "true" if dry_run else "false"}
    unreachable = []
    started = time.monotonic()
    for url in urls:
        result.url = url
        try:
            response = client.post(f"{url}/internal/janitor/run", params=params, headers=headers, timeout=timeout)
        except httpx.ConnectError as exc:
            unreachable.append(f"{url} ({exc.__class__.__name__})")
            continue
        except httpx.HTTPError as exc:  # it may be working: do not start a second run elsewhere
            result.error = f"{url}: {exc!r}"
            break
        if response.status_code != 200:
            result.error = _describe(response)
            break
        try:
            body = response.json()
            if not isinstance(body, dict):
                raise ValueError(f"answer is not a JSON object: {response.text[:200]!r}")
            result.found = _counter(body, "found")
            result.files_removed = _counter(body, "filesRemoved")
            result.rows_removed = _counter(body, "rowsRemoved")
            result.bytes_freed = _counter(body, "bytesFreed")
        except ValueError as exc:
            result.error = str(exc)
        break
    else:
        result.error = "cannot reach " + ", ".join(unreachable)
    result.duration_ms = (time.monotonic() - started) * 1000
    return result


def run_janitor(settings: JanitorSettings, data_dir: Path, *, older_than_days: int | None = None,
                dry_run: bool = False, services: list[str] | None = None, trigger: str = "manual",
                local_only: bool = False) -> JanitorRun:
    """Ask each service in `janitor_services` to clean up; never raises for a service that fails."""
    days = settings.janitor_older_than_days if older_than_days is None else older_than_days
    run = JanitorRun(older_than_days=days, dry_run=dry_run, trigger=trigger)
    headers = {"traceparent": f"00-{run.trace_id}-{secrets.token_hex(8)}-01"}
    if settings.internal_token:
        headers["X-Internal-Token"] = settings.internal_token
    with httpx.Client(trust_env=False, timeout=settings.janitor_timeout_seconds) as client:
        for name in services or settings.janitor_services:
            urls = candidate_urls(name, settings, data_dir, local_only=local_only, client=client)
            run.results.append(call_service(client, name, urls, older_than_days=days, dry_run=dry_run,
                                            headers=headers, timeout=settings.janitor_timeout_seconds))
    return run


# --------------------------------------------------------------------------- logging and output


class JanitorLog:
    """Append JSON lines to `<data_dir>/log/janitor.log` (what `gluta logs janitor` reads)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = paths.log_dir(data_dir) / paths.log_file_name(LOG_NAME, 0)
        self._lock = threading.Lock()

    def write(self, line: dict[str, Any]) -> None:
        """Append one line (best effort: a full disk must not stop the launcher)."""
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
        except OSError:
            pass

    def event(self, event: str, level: str = "info", **fields: Any) -> None:
        """Append one event line in the services' log format."""
        self.write({"timestamp": _now_iso(), "level": level, "event": event, "service": "janitor", **fields})


def human_bytes(size: int) -> str:
    """Return `1.5 MB`-style sizes."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def format_run(run: JanitorRun) -> str:
    """Return the operator's table of one run."""
    verb = "would remove (dry run)" if run.dry_run else "removed"
    head = f"janitor: rows soft-deleted more than {run.older_than_days} day(s) ago; {verb}"
    rows: list[list[object]] = []
    for r in run.results:
        if r.ok:
            rows.append([r.service, r.url, r.found, r.files_removed, r.rows_removed, human_bytes(r.bytes_freed)])
        else:
            rows.append([r.service, r.url or "-", "-", "-", "-", "FAILED"])
    rows.append(["total", "", run.total("found"), run.total("files_removed"), run.total("rows_removed"),
                 human_bytes(run.total("bytes_freed"))])
    table = format_table(["SERVICE", "URL", "FOUND", "FILES", "ROWS", "FREED"], rows)
    return f"{head}\n{table}"


def run_janitor_command(data_dir: Path, *, older_than: str | None = None, dry_run: bool = False,
                        services: list[str] | None = None, as_json: bool = False,
                        out: TextIO | None = None) -> int:
    """Run `gluta janitor run`: 0 when every service answered, 1 when one failed, 2 on bad settings."""
    out = out or sys.stdout
    try:
        days = parse_older_than(older_than) if older_than is not None else None
        loaded = load_settings(_config_url(data_dir))
    except (ValueError, ValidationError) as exc:
        print(f"gluta janitor: {exc}", file=sys.stderr)
        return 2
    if loaded.config_error:
        print(f"gluta janitor: {loaded.config_error}; using environment and defaults", file=sys.stderr)
    run = run_janitor(loaded.settings, data_dir, older_than_days=days, dry_run=dry_run, services=services)
    log = JanitorLog(data_dir)
    lines = run.log_lines()
    for line in lines:
        log.write(line)
    if as_json:
        for line in lines:
            print(json.dumps(line, ensure_ascii=False), file=out)
    else:
        print(format_run(run), file=out)
    for r in run.results:
        if not r.ok:
            print(f"gluta janitor: {r.service}: {r.error}", file=sys.stderr)
    return 0 if run.ok else 1


def _config_url(data_dir: Path) -> str | None:
    """Return the config service URL: $GLUTA_CONFIG_URL (empty = none), else processes.json or :8888."""
    import os

    if "GLUTA_CONFIG_URL" in os.environ:
        return os.environ["GLUTA_CONFIG_URL"] or None
    return paths.service_url(data_dir, "config")


def run_schedule_command(data_dir: Path, count: int = 5, out: TextIO | None = None) -> int:
    """Run `gluta janitor schedule`: print the cron in force and its next run times."""
    from croniter import croniter

    out = out or sys.stdout
    try:
        loaded = load_settings(_config_url(data_dir))
    except ValidationError as exc:
        print(f"gluta janitor: {exc}", file=sys.stderr)
        return 2
    settings = loaded.settings
    source = f"config version {loaded.config_version}" if loaded.config_version else "defaults/environment"
    if loaded.config_error:
        source += f" ({loaded.config_error})"
    print(f"cron: {settings.janitor_cron}   retention: {settings.janitor_older_than_days} day(s)   "
          f"services: {', '.join(settings.janitor_services)}   from: {source}", file=out)
    if not settings.schedule_enabled:
        print("the schedule is off (janitor_cron: off)", file=out)
        return 0
    it = croniter(settings.janitor_cron, datetime.now().astimezone())
    for _ in range(count):
        print(f"  next: {it.get_next(datetime).isoformat()}", file=out)
    return 0


# --------------------------------------------------------------------------- the schedule in `gluta up`


Runner = Callable[..., JanitorRun]


class JanitorSchedule:
    """Run the janitor at the times of `janitor_cron`, re-read from the config service at every tick.

    Local time zone, like cron. A run missed while the launcher was stopped happens at the next start
    (the last run is kept in `<data_dir>/run/janitor-schedule.json`). Only the launcher's own processes
    (processes.json) are called.
    """

    def __init__(self, data_dir: Path, config_url: str | None, *, profile: str | None = None,
                 clock: Callable[[], datetime] | None = None, runner: Runner | None = None) -> None:
        self.data_dir = data_dir
        self.config_url = config_url
        self.profile = profile
        self.clock = clock or (lambda: datetime.now().astimezone())
        self.runner = runner or run_janitor
        self.log = JanitorLog(data_dir)
        self.cron: str | None = None
        self.next_run: datetime | None = None
        self.tick_seconds = JanitorSettings.model_fields["janitor_tick_seconds"].default
        self._config_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- state

    @property
    def state_path(self) -> Path:
        return paths.run_dir(self.data_dir) / STATE_FILE

    def _read_state(self) -> dict[str, Any]:
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            return state if isinstance(state, dict) else {}
        except (OSError, ValueError):
            return {}

    def _write_state(self, **values: Any) -> None:
        try:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps({**self._read_state(), **values}), encoding="utf-8")
            tmp.replace(self.state_path)
        except OSError:
            pass

    def _due_after(self, cron: str, now: datetime) -> datetime:
        """Return the first cron time after the last run (or after the schedule began): catch-up included."""
        from croniter import croniter

        state = self._read_state()
        base = None
        for key in ("lastRunAt", "since"):
            try:
                base = datetime.fromisoformat(state[key])
                break
            except (KeyError, TypeError, ValueError):
                continue
        if base is None or base > now:
            base = now
            self._write_state(since=now.isoformat())
        return croniter(cron, base.astimezone(now.tzinfo)).get_next(datetime)

    # -- settings

    def _settings(self) -> LoadedSettings:
        loaded = load_settings(self.config_url, self.profile)
        if loaded.config_error != self._config_error:  # log changes only, not every tick
            if loaded.config_error:
                self.log.event("janitor.config_unavailable", "warning", error=loaded.config_error)
            else:
                self.log.event("janitor.config_read", configVersion=loaded.config_version)
            self._config_error = loaded.config_error
        return loaded

    # -- one tick

    def tick(self) -> JanitorRun | None:
        """Re-read the settings; run the janitor when its time has come; return the run, if any."""
        now = self.clock()
        loaded = self._settings()
        settings = loaded.settings
        self.tick_seconds = settings.janitor_tick_seconds
        cron = settings.janitor_cron
        if not settings.schedule_enabled:
            if self.cron != cron:
                self.log.event("janitor.schedule_off", cron=cron)
            self.cron, self.next_run = cron, None
            return None
        if cron != self.cron or self.next_run is None:
            self.next_run = self._due_after(cron, now)
            self.log.event("janitor.scheduled", cron=cron, nextRunAt=self.next_run.isoformat(),
                           olderThanDays=settings.janitor_older_than_days, configVersion=loaded.config_version)
            self.cron = cron
        if now < self.next_run:
            return None
        run = self.runner(settings, self.data_dir, trigger="schedule", local_only=True)
        for line in run.log_lines():
            self.log.write(line)
        self._write_state(lastRunAt=now.isoformat())
        from croniter import croniter

        self.next_run = croniter(cron, now).get_next(datetime)
        self.log.event("janitor.scheduled", cron=cron, nextRunAt=self.next_run.isoformat(),
                       olderThanDays=settings.janitor_older_than_days)
        return run

    # -- background thread

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # never let the schedule die silently, never crash the launcher
                self.log.event("janitor.schedule_failed", "error", error=repr(exc))
            self._stop.wait(self.tick_seconds)

    def start(self) -> JanitorSchedule:
        """Tick now and then every `janitor_tick_seconds` in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, name="janitor-schedule", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Stop ticking (a run in progress is left to finish or to be cut by the services' stop)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
