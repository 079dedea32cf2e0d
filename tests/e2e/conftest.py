"""Fixtures for the end-to-end tests.

- `cluster`: real service processes on free ports, started and stopped by the test; unlike `gluta up`
  (fixed ports), it lets a test stop one service or the broker and start it again.
- `system`: the whole system as a user starts it (`gluta up --ports free`, demo data) on each stack, local
  and production (`GLUTA_E2E_STACKS`), or one already running given by `GLUTA_E2E_*` URLs;
  `browser`: Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from gluta_kit.testing import NatsProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
ADMIN = ("e2eadmin", "e2e-admin-pass-1")


class Cluster:
    """Real processes: NATS, discovery, user, product, order, gateway — each on its own free port."""

    def __init__(self, data_dir: Path, settings: dict[str, dict[str, str]] | None = None) -> None:
        """`settings`: extra environment per service name (`"*"`: every service), e.g. lower rate limits."""
        self.data_dir = data_dir
        self.nats = NatsProcess(data_dir / "nats")
        self.ports = {name: free_port() for name in ("discovery", "user", "product", "order", "gateway",
                                                      "storefront", "admin")}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.admin = ADMIN
        self.settings = settings or {}

    def env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GLUTA_") or k.startswith("GLUTA_TEST_")}
        env.update(
            GLUTA_PORT=str(self.ports[name]),
            GLUTA_DATA_DIR=str(self.data_dir),
            GLUTA_BUS_URL=self.nats.url,
            GLUTA_DISCOVERY_URL=f"http://127.0.0.1:{self.ports['discovery']}",
            GLUTA_CONFIG_URL="",
            GLUTA_DEMO="false",
            GLUTA_HEARTBEAT_SECONDS="1",
            GLUTA_ADMIN_LOGIN_ID=ADMIN[0],
            GLUTA_ADMIN_PASSWORD=ADMIN[1],
            GLUTA_LOG_LEVEL="INFO",
            GLUTA_GATEWAY_URL=self.gateway,  # the web front-ends' API
            GLUTA_STOREFRONT_URL=self.url("storefront"),
        )
        env.update(self.settings.get("*", {}))
        env.update(self.settings.get(name, {}))
        return env

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self, name: str, wait: bool = True) -> None:
        """Start one service and (unless told not to) wait until it is ready."""
        log = open(self.data_dir / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen([sys.executable, "-m", f"gluta_{name}"], env=self.env(name),
                                                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        log.close()
        if wait:
            self.wait_ready(name)

    def wait_ready(self, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log_tail(name)}")
            try:
                if httpx.get(f"{self.url(name)}/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} not ready:\n{self.log_tail(name)}")

    def stop(self, name: str) -> None:
        """Stop one service (only the process this cluster started)."""
        process = self.processes.pop(name, None)
        if process and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.data_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def log_lines(self, name: str) -> list[dict[str, Any]]:
        path = self.data_dir / f"{name}.log"
        out = []
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def start_all(self) -> None:
        self.nats.start()
        self.start("discovery")
        for name in ("user", "product", "order"):  # side by side: a start is mostly imports and migrations
            self.start(name, wait=False)
        for name in ("user", "product", "order"):
            self.wait_ready(name)
        self.start("gateway")
        # the gateway is ready when every service has a live instance in discovery
        deadline = time.monotonic() + 30
        while httpx.get(f"{self.gateway}/ready", timeout=2).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError("gateway never saw every service")
            time.sleep(0.3)

    def stop_all(self) -> None:
        for name in list(self.processes)[::-1]:
            self.stop(name)
        self.nats.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start_all()
        yield cluster
    finally:
        cluster.stop_all()


@pytest.fixture(scope="session")
def cluster_class() -> type[Cluster]:
    """The `Cluster` class, for a conftest further down that starts one with its own settings."""
    return Cluster


CHROMIUM = "/usr/bin/chromium"
STACKS = ("local", "production")


def wanted_stacks() -> list[str]:
    """The stacks the `system` tests run on: $GLUTA_E2E_STACKS (comma-separated), default both."""
    raw = os.environ.get("GLUTA_E2E_STACKS") or ",".join(STACKS)
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = sorted(set(names) - set(STACKS))
    if unknown:
        raise pytest.UsageError(f"GLUTA_E2E_STACKS: unknown stack(s) {unknown}; known: {', '.join(STACKS)}")
    return names


def production_skip_reason() -> str | None:
    """Why the production stack cannot start here (no MariaDB or Redis given, no Tansu), or None."""
    from gluta_cli.production import find_tansu

    missing = [name for name in ("GLUTA_TEST_MYSQL_URL", "GLUTA_TEST_REDIS_URL") if not os.environ.get(name)]
    if missing:
        return f"the production stack needs a MariaDB and a Redis server: {' and '.join(missing)} not set"
    try:
        find_tansu()
    except FileNotFoundError as exc:
        return str(exc)
    return None


def up_command(stack: str, data_dir: Path) -> list[str]:
    """The `gluta up` command line of a stack: every port free, so that runs never collide."""
    argv = [sys.executable, "-m", "gluta_cli", "up", "--data-dir", str(data_dir), "--ports", "free",
            "--ready-timeout", "240"]
    if stack == "production":
        server = os.environ["GLUTA_TEST_MYSQL_URL"].rsplit("/", 1)[0]  # the server; the stack makes its databases
        argv += ["--profile", "production", "--mysql-url", server, "--redis-url", os.environ["GLUTA_TEST_REDIS_URL"],
                 "--ephemeral"]
    return argv


def report(config: pytest.Config, line: str) -> None:
    """Write a line to the terminal even while the test's output is captured."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if capture is None or reporter is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


@pytest.fixture(scope="session", params=wanted_stacks())
def system(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A running system: given by `GLUTA_E2E_*` URLs, or started here by `gluta up` on free ports.

    The parameter is the stack: `local` (NATS, SQLite, one instance each) or `production` (MariaDB with a
    database and user per service, Redis, Kafka protocol through Tansu, two gateways, products and orders).
    The same tests run on both; `GLUTA_E2E_STACKS=production` (`make e2e-production`) picks one.
    """
    stack: str = request.param
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    storefront, gateway = os.environ.get("GLUTA_E2E_STOREFRONT_URL"), os.environ.get("GLUTA_E2E_GATEWAY_URL")
    if storefront and gateway:
        if stack != wanted_stacks()[0]:
            pytest.skip("the tests run against the one system given by GLUTA_E2E_* URLs")
        yield {"storefront": storefront.rstrip("/"), "gateway": gateway.rstrip("/"), "gateways": [gateway.rstrip("/")],
               "admin": os.environ.get("GLUTA_E2E_ADMIN_URL", "http://127.0.0.1:8085").rstrip("/"),
               "data_dir": os.environ.get("GLUTA_E2E_DATA_DIR", ""), "stack": stack, "processes": []}
        return
    if stack == "production" and (reason := production_skip_reason()):
        pytest.skip(reason)
    data_dir = tmp_path_factory.mktemp(f"e2e-{stack}") / "var"
    output = data_dir.parent / "up.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLUTA_") or k == "GLUTA_ARTIFACTS_DIR"}
    env["PYTHONUNBUFFERED"] = "1"
    started_at = time.monotonic()
    with open(output, "wb") as out:
        proc = subprocess.Popen(up_command(stack, data_dir), stdout=out, stderr=subprocess.STDOUT, env=env)
    started: dict[int, float | None] = {}
    try:
        deadline = time.monotonic() + 330
        while time.monotonic() < deadline:
            text = output.read_text(errors="replace")
            if "Glutathione is up" in text:
                break
            if proc.poll() is not None:
                pytest.fail(f"gluta up stopped (exit {proc.returncode}):\n{text[-4000:]}")
            time.sleep(0.5)
        else:
            pytest.fail(f"gluta up was not ready in time:\n{output.read_text(errors='replace')[-4000:]}")
        records = json.loads((data_dir / "run" / "processes.json").read_text())
        started = {r["pid"]: r.get("createTime") for r in records}
        urls = {r["name"]: r["url"] for r in records if r["instance"] == 0}
        summary = json.loads((data_dir / "run" / "stack.json").read_text())
        report(request.config, f"\n[e2e stack {stack}] up in {time.monotonic() - started_at:.0f} s; "
                               + "; ".join(f"{k}: {v}" for k, v in summary.items() if k != "profile"))
        yield {"storefront": urls["storefront"], "gateway": urls["gateway"], "admin": urls["admin"],
               "gateways": [r["url"] for r in records if r["name"] == "gateway"],
               "data_dir": str(data_dir), "stack": stack, "summary": summary, "processes": records}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=40)  # an ephemeral production stack also drops its databases
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pid, created in started.items():  # only what this launcher started, by pid
            try:
                child = psutil.Process(pid)
                if created is None or abs(child.create_time() - created) < 1.0:
                    child.kill()
            except psutil.Error:
                pass


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium (never a downloaded browser), headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            yield chromium
        finally:
            chromium.close()
