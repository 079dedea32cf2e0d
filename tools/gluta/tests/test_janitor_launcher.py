"""`gluta up` runs the janitor on the cron it reads from the config service at every tick (stand-in services)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pytest

pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes"), pytest.mark.timeout(120)]

STAND_IN = textwrap.dedent(
    '''
    """Stand-in config + product: /health, /ready, /config/janitor/<profile>, /internal/janitor/run."""
    import json, os
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlparse

    VALUES, CALLS = os.environ["STANDIN_VALUES"], os.environ["STANDIN_CALLS"]

    class Handler(BaseHTTPRequestHandler):
        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path in ("/health", "/ready"):
                self.reply(200, {"status": "ok"})
            elif self.path.startswith("/config/janitor/"):
                with open(VALUES) as fh:
                    self.reply(200, {"values": json.load(fh), "version": "standin-1"})
            else:
                self.reply(404, {})

        def do_POST(self):
            url = urlparse(self.path)
            if url.path != "/internal/janitor/run":
                return self.reply(404, {})
            with open(CALLS, "a") as fh:
                fh.write(json.dumps({k: v[0] for k, v in parse_qs(url.query).items()}) + "\\n")
            self.reply(200, {"found": 3, "filesRemoved": 2, "rowsRemoved": 3, "bytesFreed": 4096})

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", int(os.environ["GLUTA_PORT"])), Handler).serve_forever()
    '''
)


def wait_until(predicate: Any, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


class Up:
    def __init__(self, tmp_path: Path, gluta: Any) -> None:
        self.tmp_path = tmp_path
        self.gluta = gluta
        self.data_dir = tmp_path / "data"
        self.values = tmp_path / "values.json"
        self.calls = tmp_path / "calls.jsonl"
        self.output = tmp_path / "up.out"
        self.proc: subprocess.Popen[bytes] | None = None

    def set_values(self, **values: Any) -> None:
        tmp = self.values.with_suffix(".tmp")
        tmp.write_text(json.dumps(values))
        tmp.replace(self.values)

    def start(self) -> None:
        script = self.tmp_path / "stand_in.py"
        script.write_text(STAND_IN)
        env = {"STANDIN_VALUES": str(self.values), "STANDIN_CALLS": str(self.calls)}
        specs = [
            {"name": "broker", "kind": "broker", "port": 0,
             "argv": ["{nats_server}", "-a", "127.0.0.1", "-p", "{port}", "-js", "-sd", "{data_dir}/nats"]},
            {"name": "config", "group": 1, "argv": ["{python}", str(script)], "env": env},
            {"name": "product", "group": 2, "argv": ["{python}", str(script)], "env": env},
        ]
        spec_file = self.tmp_path / "specs.json"
        spec_file.write_text(json.dumps(specs))
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(
                self.gluta.cmd("up", "--data-dir", str(self.data_dir)), stdout=out, stderr=subprocess.STDOUT,
                env=self.gluta.env(GLUTA_LAUNCHER_SPEC_FILE=str(spec_file), PYTHONUNBUFFERED="1"))

    def text(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    def events(self) -> list[dict[str, Any]]:
        path = self.data_dir / "log" / "janitor.log"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def received(self) -> list[dict[str, str]]:
        return [json.loads(line) for line in self.calls.read_text().splitlines()] if self.calls.exists() else []

    def cleanup(self) -> None:
        if self.proc is None:
            return
        children = []
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for child in children:
            try:
                child.kill()
            except psutil.Error:
                pass


@pytest.fixture
def up(tmp_path: Path, gluta: Any) -> Iterator[Up]:
    runner = Up(tmp_path, gluta)
    yield runner
    runner.cleanup()


def test_up_runs_the_janitor_on_the_config_services_cron(up: Up, gluta: Any) -> None:
    up.set_values(janitor_cron="0 1 * * 1", janitor_tick_seconds=0.2)
    up.start()
    assert wait_until(lambda: "Glutathione is up" in up.text(), 60), up.text()

    # scheduled for Monday 01:00 (local time), nothing runs before
    assert wait_until(lambda: any(e["event"] == "janitor.scheduled" for e in up.events()), 10), up.events()
    scheduled = next(e for e in up.events() if e["event"] == "janitor.scheduled")
    next_run = datetime.fromisoformat(scheduled["nextRunAt"])
    assert (next_run.weekday(), next_run.hour, next_run.minute) == (0, 1, 0)
    assert scheduled["configVersion"] == "standin-1" and scheduled["cron"] == "0 1 * * 1"
    time.sleep(1.0)
    assert up.received() == []

    # the config service now says every second, 12 days: the next tick picks it up and runs
    up.set_values(janitor_cron="* * * * * */1", janitor_older_than_days=12, janitor_tick_seconds=0.2)
    assert wait_until(lambda: len(up.received()) >= 2, 15), (up.events(), up.text())
    assert up.received()[0] == {"olderThanDays": "12", "dryRun": "false"}
    done = next(e for e in up.events() if e["event"] == "janitor.service_done")
    assert (done["found"], done["filesRemoved"], done["rowsRemoved"], done["bytesFreed"]) == (3, 2, 3, 4096)
    assert done["trigger"] == "schedule" and done["target"] == "product"

    logs = gluta.run("logs", "janitor", "--data-dir", str(up.data_dir))
    assert "janitor.service_done" in logs.stdout and "filesRemoved=2" in logs.stdout, logs.stdout + logs.stderr

    # "off" stops the schedule without a restart
    up.set_values(janitor_cron="off", janitor_tick_seconds=0.2)
    assert wait_until(lambda: any(e["event"] == "janitor.schedule_off" for e in up.events()), 10)
    count = len(up.received())
    time.sleep(1.5)
    assert len(up.received()) == count

    assert up.proc is not None
    started = time.monotonic()
    up.proc.send_signal(signal.SIGTERM)
    assert up.proc.wait(timeout=20) == 0
    assert time.monotonic() - started < 10
    assert "stopped." in up.text()
