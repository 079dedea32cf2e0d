"""The janitor's settings, service lookup, answers and schedule, with stand-in HTTP endpoints and a fake clock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from pydantic import ValidationError

from gluta_cli import janitor, paths
from gluta_cli.janitor import JanitorRun, JanitorSchedule, JanitorSettings, ServiceResult
from gluta_cli.paths import ProcessRecord

KST = timezone(timedelta(hours=9))


class StandIn:
    """A tiny HTTP server: config values at /config/janitor/<profile>, a janitor endpoint that records calls."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.config_status = 200
        self.answer: tuple[int, Any] = (200, {"found": 3, "filesRemoved": 2, "rowsRemoved": 3, "bytesFreed": 2048})
        self.calls: list[dict[str, Any]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: Any) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                if self.path.startswith("/config/janitor/"):
                    self._send(stand_in.config_status, {"values": stand_in.values, "version": "v-test"})
                else:
                    self._send(404, {})

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                url = urlparse(self.path)
                if url.path != "/internal/janitor/run":
                    self._send(404, {})
                    return
                stand_in.calls.append({"query": {k: v[0] for k, v in parse_qs(url.query).items()},
                                       "headers": {k.lower(): v for k, v in self.headers.items()}})
                self._send(*stand_in.answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's GLUTA_* settings must not leak into these tests."""
    import os

    for key in list(os.environ):
        if key.startswith("GLUTA_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GLUTA_DISCOVERY_URL", "")


def closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


# --------------------------------------------------------------------------- settings


def test_parse_older_than() -> None:
    assert janitor.parse_older_than("30d") == 30
    assert janitor.parse_older_than("30") == 30
    assert janitor.parse_older_than("4w") == 28
    assert janitor.parse_older_than("0d") == 0
    for bad in ("30h", "-1d", "d", "", "1e3", "99999d"):
        with pytest.raises(ValueError):
            janitor.parse_older_than(bad)


def test_defaults_match_the_original_schedule() -> None:
    settings = JanitorSettings()
    assert settings.janitor_cron == "0 1 * * 1"
    assert settings.janitor_older_than_days == 30
    assert settings.janitor_services == ["product"]
    with pytest.raises(ValidationError, match="cron"):
        JanitorSettings(janitor_cron="every monday")
    with pytest.raises(ValidationError):
        JanitorSettings(janitor_services=["Product; rm"])
    assert not JanitorSettings(janitor_cron="off").schedule_enabled


def test_config_values_apply_and_the_environment_wins(stand_in: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in.values = {"janitor_cron": "30 2 * * *", "janitor_older_than_days": 7, "log_level": "DEBUG",
                       "janitor_services": ["product", "order"]}
    loaded = janitor.load_settings(stand_in.url)
    assert loaded.config_error is None and loaded.config_version == "v-test"
    assert loaded.settings.janitor_cron == "30 2 * * *"
    assert loaded.settings.janitor_older_than_days == 7
    assert loaded.settings.janitor_services == ["product", "order"]

    monkeypatch.setenv("GLUTA_JANITOR_OLDER_THAN_DAYS", "45")
    assert janitor.load_settings(stand_in.url).settings.janitor_older_than_days == 45


def test_bad_or_missing_config_falls_back_to_defaults(stand_in: StandIn) -> None:
    stand_in.values = {"janitor_cron": "not a cron", "janitor_older_than_days": 7}
    loaded = janitor.load_settings(stand_in.url)
    assert loaded.settings.janitor_cron == "0 1 * * 1" and loaded.settings.janitor_older_than_days == 30
    assert "rejected" in (loaded.config_error or "") and "janitor_cron" in (loaded.config_error or "")

    stand_in.config_status = 503
    assert "HTTP 503" in (janitor.load_settings(stand_in.url).config_error or "")
    unreachable = janitor.load_settings(closed_port_url())
    assert "unreachable" in (unreachable.config_error or "") and unreachable.settings.janitor_older_than_days == 30


# --------------------------------------------------------------------------- finding services


def test_candidate_urls_order(tmp_path: Path) -> None:
    settings = JanitorSettings()
    assert janitor.candidate_urls("product", settings, tmp_path) == ["http://127.0.0.1:8102"]
    assert janitor.candidate_urls("product", settings, tmp_path, local_only=True) == []
    paths.write_processes(tmp_path, [
        ProcessRecord("product", 1, 11, 9002, "http://127.0.0.1:9002/", ""),
        ProcessRecord("product", 0, 10, 9001, "http://127.0.0.1:9001", ""),
        ProcessRecord("order", 0, 12, 9003, "http://127.0.0.1:9003", ""),
    ])
    assert janitor.candidate_urls("product", settings, tmp_path) == [
        "http://127.0.0.1:9001", "http://127.0.0.1:9002", "http://127.0.0.1:8102"]
    assert janitor.candidate_urls("product", settings, tmp_path, local_only=True) == [
        "http://127.0.0.1:9001", "http://127.0.0.1:9002"]
    static = JanitorSettings(static_instances={"product": ["http://product:8102/"]})
    assert janitor.candidate_urls("product", static, tmp_path) == ["http://product:8102"]  # exclusive


def test_candidate_urls_ask_discovery(tmp_path: Path) -> None:
    import httpx

    def discovery(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/instances/product"
        return httpx.Response(200, json=[{"url": "http://10.0.0.5:8102", "status": "UP"},
                                         {"url": "http://10.0.0.6:8102", "status": "DOWN"}])

    settings = JanitorSettings(discovery_url="http://discovery:8761")
    with httpx.Client(transport=httpx.MockTransport(discovery)) as client:
        urls = janitor.candidate_urls("product", settings, tmp_path, client=client)
    assert urls == ["http://10.0.0.5:8102", "http://127.0.0.1:8102"]


# --------------------------------------------------------------------------- one run


def test_run_sends_retention_token_and_trace_and_sums_counts(stand_in: StandIn, tmp_path: Path) -> None:
    settings = JanitorSettings(internal_token="s3cret", janitor_services=["product", "order"],
                               static_instances={"product": [closed_port_url(), stand_in.url],
                                                 "order": [stand_in.url]})
    run = janitor.run_janitor(settings, tmp_path, older_than_days=12, dry_run=True)
    assert run.ok, [r.error for r in run.results]
    assert [r.url for r in run.results] == [stand_in.url, stand_in.url]  # the closed port was skipped
    assert len(stand_in.calls) == 2
    call = stand_in.calls[0]
    assert call["query"] == {"olderThanDays": "12", "dryRun": "true"}
    assert call["headers"]["x-internal-token"] == "s3cret"
    assert call["headers"]["traceparent"].split("-")[1] == run.trace_id
    assert (run.total("found"), run.total("files_removed"), run.total("bytes_freed")) == (6, 4, 4096)
    done = run.log_lines()[-1]
    assert done["event"] == "janitor.run_done" and done["rowsRemoved"] == 6 and done["dryRun"] is True


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((403, {"code": "FORBIDDEN"}), "HTTP 403"),
        ((500, b"boom"), "HTTP 500"),
        ((200, [1, 2]), "not a JSON object"),
        ((200, {"found": 1, "filesRemoved": 0, "rowsRemoved": 1}), "bytesFreed"),
        ((200, {"found": -1, "filesRemoved": 0, "rowsRemoved": 1, "bytesFreed": 0}), "found"),
    ],
)
def test_a_bad_answer_is_a_failed_service_not_a_crash(stand_in: StandIn, tmp_path: Path, answer: Any,
                                                      message: str) -> None:
    stand_in.answer = answer
    settings = JanitorSettings(static_instances={"product": [stand_in.url]})
    run = janitor.run_janitor(settings, tmp_path)
    assert not run.ok and message in (run.results[0].error or "")
    assert run.log_lines()[0]["event"] == "janitor.service_failed"
    assert run.log_lines()[0]["level"] == "error"


def test_no_instance_and_unreachable_are_reported(tmp_path: Path) -> None:
    settings = JanitorSettings(static_instances={"product": [closed_port_url()]})
    run = janitor.run_janitor(settings, tmp_path)
    assert "cannot reach" in (run.results[0].error or "")
    local = janitor.run_janitor(JanitorSettings(), tmp_path, local_only=True)
    assert local.results[0].error == "no running instance found"


def test_command_prints_a_table_logs_json_and_fails_with_a_service(stand_in: StandIn, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import io

    monkeypatch.setenv("GLUTA_CONFIG_URL", stand_in.url)
    monkeypatch.setenv("GLUTA_STATIC_INSTANCES", json.dumps({"product": [stand_in.url]}))
    stand_in.values = {"janitor_older_than_days": 9}
    out = io.StringIO()
    assert janitor.run_janitor_command(tmp_path, out=out) == 0
    text = out.getvalue()
    assert "more than 9 day(s) ago; removed" in text
    assert "product" in text and "2.0 KB" in text
    assert stand_in.calls[-1]["query"]["olderThanDays"] == "9"  # the retention came from the config service
    assert janitor.run_janitor_command(tmp_path, older_than="2w", dry_run=True, out=io.StringIO()) == 0
    assert stand_in.calls[-1]["query"] == {"olderThanDays": "14", "dryRun": "true"}

    stand_in.answer = (403, {"code": "FORBIDDEN"})
    out = io.StringIO()
    assert janitor.run_janitor_command(tmp_path, as_json=True, out=out) == 1
    printed = [json.loads(line) for line in out.getvalue().splitlines()]
    assert printed[0]["event"] == "janitor.service_failed" and printed[-1]["failed"] == ["product"]
    assert "HTTP 403" in capsys.readouterr().err

    logged = [json.loads(line) for line in (tmp_path / "log" / "janitor.log").read_text().splitlines()]
    assert [line["event"] for line in logged] == ["janitor.service_done", "janitor.run_done"] * 2 + [
        "janitor.service_failed", "janitor.run_done"]
    assert all(line["service"] == "janitor" and line["timestamp"].endswith("Z") for line in logged)
    assert logged[0]["found"] == 3 and logged[0]["target"] == "product" and logged[0]["trigger"] == "manual"

    assert janitor.run_janitor_command(tmp_path, older_than="soon", out=io.StringIO()) == 2


def test_gluta_logs_janitor_shows_the_lines(tmp_path: Path, gluta: Any) -> None:
    run = JanitorRun(older_than_days=30, dry_run=False, trigger="schedule")
    run.results.append(ServiceResult("product", "http://x", found=4, files_removed=3, rows_removed=4, bytes_freed=9))
    log = janitor.JanitorLog(tmp_path)
    for line in run.log_lines():
        log.write(line)
    (tmp_path / "log" / "product.log").write_text('{"event": "other", "service": "product"}\n')
    result = gluta.run("logs", "janitor", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "janitor.service_done" in result.stdout and "filesRemoved=3" in result.stdout
    assert "janitor.run_done" in result.stdout and "other" not in result.stdout
    traced = gluta.run("logs", "--trace", run.trace_id[:8], "--data-dir", str(tmp_path))
    assert traced.stdout.count("janitor.") == 2


# --------------------------------------------------------------------------- the schedule


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Runs:
    """A runner that records its calls instead of calling services."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, settings: JanitorSettings, data_dir: Path, **kwargs: Any) -> JanitorRun:
        self.calls.append({"days": settings.janitor_older_than_days, **kwargs})
        run = JanitorRun(settings.janitor_older_than_days, False, kwargs["trigger"])
        run.results.append(ServiceResult("product", "http://x", found=1, files_removed=1, rows_removed=1))
        return run


def events(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / "log" / "janitor.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_schedule_runs_once_at_monday_0100_local_time(stand_in: StandIn, tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 11, 22, 23, 0, tzinfo=KST))  # a Sunday evening
    runs = Runs()
    schedule = JanitorSchedule(tmp_path, stand_in.url, clock=clock, runner=runs)
    assert schedule.tick() is None
    assert schedule.next_run == datetime(2026, 11, 23, 1, 0, tzinfo=KST)
    clock.now = datetime(2026, 11, 23, 0, 59, 59, tzinfo=KST)
    assert schedule.tick() is None and runs.calls == []
    clock.now = datetime(2026, 11, 23, 1, 0, 20, tzinfo=KST)
    assert schedule.tick() is not None
    assert runs.calls == [{"days": 30, "trigger": "schedule", "local_only": True}]
    clock.now = datetime(2026, 11, 23, 1, 1, tzinfo=KST)
    assert schedule.tick() is None and len(runs.calls) == 1  # once per slot
    assert schedule.next_run == datetime(2026, 11, 30, 1, 0, tzinfo=KST)
    names = [e["event"] for e in events(tmp_path)]
    assert names == ["janitor.scheduled", "janitor.service_done", "janitor.run_done", "janitor.scheduled"]
    assert events(tmp_path)[0]["configVersion"] == "v-test"
    assert events(tmp_path)[1]["trigger"] == "schedule"


def test_schedule_rereads_the_config_service_at_every_tick(stand_in: StandIn, tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 11, 24, 10, 0, tzinfo=KST))  # a Tuesday
    runs = Runs()
    schedule = JanitorSchedule(tmp_path, stand_in.url, clock=clock, runner=runs)
    schedule.tick()
    assert schedule.next_run == datetime(2026, 11, 30, 1, 0, tzinfo=KST)

    stand_in.values = {"janitor_cron": "15 10 * * *", "janitor_older_than_days": 3, "janitor_tick_seconds": 0.5}
    clock.now = datetime(2026, 11, 24, 10, 5, tzinfo=KST)
    assert schedule.tick() is None
    assert schedule.next_run == datetime(2026, 11, 24, 10, 15, tzinfo=KST) and schedule.tick_seconds == 0.5
    clock.now = datetime(2026, 11, 24, 10, 15, 1, tzinfo=KST)
    assert schedule.tick() is not None and runs.calls[-1]["days"] == 3

    stand_in.values = {"janitor_cron": "off"}
    clock.now = datetime(2026, 11, 25, 10, 15, 1, tzinfo=KST)
    assert schedule.tick() is None and schedule.next_run is None and len(runs.calls) == 1
    assert events(tmp_path)[-1]["event"] == "janitor.schedule_off"

    stand_in.config_status = 500  # config down: the defaults hold, the outage is logged once
    schedule.tick()
    schedule.tick()
    assert schedule.cron == "0 1 * * 1"
    assert [e["event"] for e in events(tmp_path)].count("janitor.config_unavailable") == 1


def test_a_run_missed_while_stopped_happens_at_the_next_start(stand_in: StandIn, tmp_path: Path) -> None:
    runs = Runs()
    clock = Clock(datetime(2026, 11, 20, 12, 0, tzinfo=KST))  # Friday: first start, nothing to catch up
    first = JanitorSchedule(tmp_path, stand_in.url, clock=clock, runner=runs)
    assert first.tick() is None and runs.calls == []
    # stopped over the weekend and Monday 01:00; started again on Tuesday
    clock.now = datetime(2026, 11, 24, 9, 0, tzinfo=KST)
    second = JanitorSchedule(tmp_path, stand_in.url, clock=clock, runner=runs)
    assert second.tick() is not None and len(runs.calls) == 1
    assert second.next_run == datetime(2026, 11, 30, 1, 0, tzinfo=KST)
    third = JanitorSchedule(tmp_path, stand_in.url, clock=clock, runner=runs)  # restarted again the same day
    assert third.tick() is None and len(runs.calls) == 1


def test_schedule_thread_survives_errors_and_stops_quickly(tmp_path: Path) -> None:
    import time

    def broken(*args: Any, **kwargs: Any) -> JanitorRun:
        raise RuntimeError("boom")

    schedule = JanitorSchedule(tmp_path, None, clock=Clock(datetime(2026, 11, 23, 1, 0, tzinfo=KST)),
                               runner=broken)
    schedule._write_state(lastRunAt=datetime(2026, 11, 16, 1, 0, tzinfo=KST).isoformat())
    schedule.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(e["event"] == "janitor.schedule_failed" for e in events(tmp_path)):
        time.sleep(0.05)
    started = time.monotonic()
    schedule.stop()
    assert time.monotonic() - started < 1.5
    assert schedule._thread is not None and not schedule._thread.is_alive()
    failed = [e for e in events(tmp_path) if e["event"] == "janitor.schedule_failed"]
    assert failed and "boom" in failed[0]["error"]
