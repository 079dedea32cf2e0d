"""`gluta up` as a subprocess with stand-in services and the real NATS binary."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from gluta_cli import launcher

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups and signals")


def pid_gone(pid: int, create_time: float | None) -> bool:
    """Return True when the process has exited (a zombie or a reused pid counts as gone)."""
    try:
        proc = psutil.Process(pid)
        if create_time is not None and abs(proc.create_time() - create_time) > 1.0:
            return True
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until(predicate: Any, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


class Up:
    """A `gluta up` subprocess with stand-in services, and everything it started."""

    def __init__(self, tmp_path: Path, gluta: Any, fake_service: Path) -> None:
        self.tmp_path = tmp_path
        self.gluta = gluta
        self.fake_service = fake_service
        self.data_dir = tmp_path / "data"
        self.output = tmp_path / "up.out"
        self.proc: subprocess.Popen[bytes] | None = None
        self.seen: dict[int, float | None] = {}

    def service(self, name: str, group: int, **env: str) -> dict[str, Any]:
        return {
            "name": name,
            "group": group,
            "argv": ["{python}", str(self.fake_service)],
            "env": {"FAKE_NAME": name, **env},
        }

    def start(self, services: list[dict[str, Any]], *args: str) -> None:
        broker = {
            "name": "broker",
            "kind": "broker",
            "port": 0,
            "argv": ["{nats_server}", "-a", "127.0.0.1", "-p", "{port}", "-js", "-sd", "{data_dir}/nats"],
        }
        spec_file = self.tmp_path / "specs.json"
        spec_file.write_text(json.dumps([broker, *services]))
        env = self.gluta.env(GLUTA_LAUNCHER_SPEC_FILE=str(spec_file), PYTHONUNBUFFERED="1")
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(
                self.gluta.cmd("up", "--data-dir", str(self.data_dir), *args),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def text(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    def wait_for(self, needle: str, timeout: float = 30) -> None:
        ok = wait_until(lambda: needle in self.text() or (self.proc and self.proc.poll() is not None), timeout)
        assert ok and needle in self.text(), f"{needle!r} not printed; launcher output:\n{self.text()}"

    def records(self) -> list[dict[str, Any]]:
        records = json.loads((self.data_dir / "run" / "processes.json").read_text())
        for r in records:
            self.seen[r["pid"]] = r.get("createTime")
        return records

    def started_pids(self) -> list[int]:
        pids = [int(p) for p in re.findall(r"started \S+\s+pid (\d+)", self.text())]
        for pid in pids:
            self.seen.setdefault(pid, None)
        return pids

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def cleanup(self) -> None:
        """Kill whatever this test started and is still there (only our own pids)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.started_pids()
        for pid, created in self.seen.items():
            if not pid_gone(pid, created):
                try:
                    psutil.Process(pid).kill()
                except psutil.Error:
                    pass


@pytest.fixture
def up(tmp_path: Path, gluta: Any, fake_service: Path) -> Iterator[Up]:
    runner = Up(tmp_path, gluta, fake_service)
    yield runner
    runner.cleanup()


def test_up_status_and_sigterm_stops_everything(up: Up, gluta: Any) -> None:
    up.start([up.service("discovery", 1), up.service("product", 2), up.service("gateway", 3)])
    up.wait_for("Glutathione is up")
    records = up.records()
    assert [(r["name"], r["instance"]) for r in records] == [
        ("broker", 0),
        ("discovery", 0),
        ("product", 0),
        ("gateway", 0),
    ]
    broker = records[0]
    assert broker["url"] == f"nats://127.0.0.1:{broker['port']}"
    for r in records:
        assert psutil.pid_exists(r["pid"])
        assert Path(r["log"]).parent == up.data_dir / "log"
    assert "demo accounts: (none)" in up.text()
    assert f"API gateway  http://127.0.0.1:{records[3]['port']}" in up.text()

    # the services got the launcher's environment
    started = json.loads((up.data_dir / "log" / "product.log").read_text().splitlines()[0])
    assert started["env"]["GLUTA_BUS_URL"] == f"nats://127.0.0.1:{broker['port']}"
    assert started["env"]["GLUTA_DISCOVERY_URL"] == f"http://127.0.0.1:{records[1]['port']}"
    assert started["env"]["GLUTA_DATA_DIR"] == str(up.data_dir)
    assert started["env"]["GLUTA_PORT"] == str(records[2]["port"])
    assert started["env"]["GLUTA_DEMO"] == "true"

    status = gluta.run("status", "--data-dir", str(up.data_dir))
    assert status.returncode == 0, status.stdout + status.stderr
    lines = status.stdout.splitlines()
    # what the stack runs on comes first, then the table
    assert lines[0].split()[:2] == ["profile:", "local"] and lines[1].startswith("bus:") and "NATS" in lines[1]
    lines = lines[4:]
    assert lines[0].split() == ["NAME", "INST", "PID", "PORT", "ALIVE", "HEALTH", "RSS", "MB"]
    for r in records:
        row = next(line for line in lines if line.startswith(r["name"] + " "))
        assert row.split()[:6] == [r["name"], "0", str(r["pid"]), str(r["port"]), "yes", "ok"]
    assert lines[-1].startswith("total RSS: ") and "(4/4 processes alive)" in lines[-1]

    as_json = json.loads(gluta.run("status", "--json", "--data-dir", str(up.data_dir)).stdout)
    assert as_json["running"] is True and all(p["health"] == "ok" for p in as_json["processes"])
    assert as_json["totalRssMb"] > 0

    logs = gluta.run("logs", "--data-dir", str(up.data_dir), "product")
    assert "product    INFO  started" in logs.stdout

    started_at = time.monotonic()
    assert up.stop(signal.SIGTERM) == 0
    assert wait_until(lambda: all(pid_gone(r["pid"], r["createTime"]) for r in records), 10)
    assert time.monotonic() - started_at < 10
    assert not (up.data_dir / "run" / "processes.json").exists()
    assert "stopped." in up.text()
    assert gluta.run("status", "--data-dir", str(up.data_dir)).returncode == 1


def test_second_up_reuses_the_data_dir(up: Up) -> None:
    up.start([up.service("user", 2)])
    up.wait_for("Glutathione is up")
    assert up.stop(signal.SIGINT) == 0
    marker = up.data_dir / "keep.me"
    marker.write_text("x")
    first_log = (up.data_dir / "log" / "user.log").read_text()
    up.start([up.service("user", 2)])
    up.wait_for("Glutathione is up")
    assert marker.exists()
    assert (up.data_dir / "log" / "user.log").read_text().startswith(first_log)  # appended, not wiped
    records = up.records()
    assert up.stop() == 0
    assert wait_until(lambda: all(pid_gone(r["pid"], r["createTime"]) for r in records), 10)


def test_a_dying_child_is_reported_and_the_rest_keeps_running(up: Up) -> None:
    up.start([up.service("user", 2), up.service("order", 2, FAKE_DIE_AFTER="1.5")])
    up.wait_for("Glutathione is up")
    records = up.records()
    up.wait_for("exited unexpectedly")
    text = up.text()
    assert re.search(r"order \(pid \d+\) exited unexpectedly with exit code 3", text)
    assert "RuntimeError: stand-in crashed on purpose" in text
    time.sleep(1.0)
    assert text.count("exited unexpectedly") == up.text().count("exited unexpectedly") == 1  # no restart loop
    user = next(r for r in records if r["name"] == "user")
    assert not pid_gone(user["pid"], user["createTime"])
    assert up.proc is not None and up.proc.poll() is None
    assert up.stop() == 0
    assert wait_until(lambda: all(pid_gone(r["pid"], r["createTime"]) for r in records), 10)


def test_ready_timeout_names_the_service_stops_everything_and_exits_1(up: Up) -> None:
    up.start([up.service("user", 2), up.service("product", 2, FAKE_READY="0")], "--ready-timeout", "2")
    assert up.proc is not None
    assert up.proc.wait(timeout=30) == 1
    text = up.text()
    assert re.search(r"product is not ready \(http://127\.0\.0\.1:\d+/ready\) after 2s", text)
    assert '"event": "started"' in text  # the tail of its log
    pids = up.started_pids()
    assert len(pids) == 3
    assert wait_until(lambda: all(pid_gone(pid, None) for pid in pids), 10)
    assert not (up.data_dir / "run" / "processes.json").exists()


def test_a_child_ignoring_sigterm_is_killed(up: Up) -> None:
    up.start([up.service("order", 2, FAKE_IGNORE_TERM="1")])
    up.wait_for("Glutathione is up")
    records = up.records()
    started_at = time.monotonic()
    assert up.stop(timeout=20) == 0
    elapsed = time.monotonic() - started_at
    assert launcher.STOP_GRACE_SECONDS - 0.5 <= elapsed < launcher.STOP_GRACE_SECONDS + 4
    assert "did not stop in time; killing it" in up.text()
    assert all(pid_gone(r["pid"], r["createTime"]) for r in records)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_children_go_away_even_if_the_launcher_is_killed(up: Up) -> None:
    up.start([up.service("user", 2)])
    up.wait_for("Glutathione is up")
    records = up.records()
    up.stop(signal.SIGKILL)
    assert wait_until(lambda: all(pid_gone(r["pid"], r["createTime"]) for r in records), 10)
