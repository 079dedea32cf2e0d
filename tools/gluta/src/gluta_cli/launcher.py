"""`gluta up`: process specs, port checks, start in groups, wait for health, supervise, stop."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any, TextIO

import httpx
import psutil

from gluta_cli import paths
from gluta_cli.paths import BROKER, HOST, SERVICE_PORTS, ProcessRecord
from gluta_cli.production import ProductionOptions, StackState

SPEC_FILE_ENV = "GLUTA_LAUNCHER_SPEC_FILE"
"""Test hook: a JSON list of process specs that replaces the real services."""

START_GROUPS: list[list[str]] = [
    ["discovery", "config"],
    ["user", "product", "order"],
    ["gateway", "storefront", "admin"],
]
SERVICE_ORDER: list[str] = [name for group in START_GROUPS for name in group]
SCALABLE = {"user", "product", "order", "gateway", "storefront", "admin"}

STOP_GRACE_SECONDS = 8.0
BROKER_GRACE_SECONDS = 2.0
# glibc malloc settings for every child (memory at idle):
# - two arenas instead of one per thread: the services' worker threads (SQLite, hashing) would otherwise each
#   keep an arena of freed memory (about 20 MB less RSS for the user service);
# - a fixed mmap threshold of 128 KiB: blocks from 128 KiB up are mapped and given back when freed. By
#   default glibc raises the threshold to the size of the largest block freed so far, so after one Argon2
#   hash (19 MiB) every later hash is carved from the heap and its pages stay (about 19 MB for the user
#   service).
MALLOC_ENV = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072"}

POLL_SECONDS = 0.2


class UsageError(ValueError):
    """A bad command-line value (exit code 2)."""


@dataclass
class ProcessSpec:
    """How to start one process and how to tell it is up."""

    name: str
    instance: int
    port: int
    argv: list[str]
    group: int
    kind: str = "service"  # "service" (HTTP /health + /ready) or "broker" (TCP port only)
    env: dict[str, str] = field(default_factory=dict)
    scheme: str = ""  # of the URL: http for a service, nats or kafka for a broker

    @property
    def label(self) -> str:
        """Return the display name: `product`, `product-1`..."""
        return self.name if self.instance == 0 else f"{self.name}-{self.instance}"

    @property
    def url(self) -> str:
        """Return the base URL of the process."""
        scheme = self.scheme or ("nats" if self.kind == "broker" else "http")
        return f"{scheme}://{HOST}:{self.port}"

    @property
    def log_name(self) -> str:
        """Return the log file name of the process."""
        return paths.log_file_name(self.name, self.instance)


@dataclass
class UpOptions:
    """What `gluta up` was asked to do."""

    data_dir: Path
    scale: dict[str, int] = field(default_factory=dict)
    only: list[str] | None = None
    demo: bool = True
    ready_timeout: float = 60.0
    health_timeout: float = 60.0
    ports: str = "fixed"  # "fixed": the table's ports (extra instances on free ones); "free": every port free
    production: ProductionOptions | None = None  # the production profile (see gluta_cli.production)
    stack: StackState | None = None  # filled by run_up from `production` before the specs are built


SpecBuilder = Callable[[UpOptions], list[ProcessSpec]]


# --------------------------------------------------------------------------- option parsing


def parse_scale(values: Iterable[str] | None) -> dict[str, int]:
    """Parse `NAME=N` items (repeatable, comma-separated allowed) into a dict of instance counts."""
    scale: dict[str, int] = {}
    for value in values or []:
        for item in filter(None, (part.strip() for part in value.split(","))):
            name, sep, count = item.partition("=")
            name = name.strip()
            if not sep:
                raise UsageError(f"--scale expects NAME=N, got {item!r}")
            if name not in SCALABLE:
                allowed = ", ".join(sorted(SCALABLE))
                raise UsageError(f"--scale: {name!r} cannot be scaled (scalable: {allowed})")
            try:
                n = int(count)
            except ValueError:
                raise UsageError(f"--scale {item!r}: N must be an integer") from None
            if n < 1 or n > 16:
                raise UsageError(f"--scale {item!r}: N must be between 1 and 16")
            scale[name] = n
    return scale


def parse_ports(value: str | None) -> str:
    """Parse `--ports fixed|free`."""
    value = (value or "fixed").strip().lower()
    if value not in {"fixed", "free"}:
        raise UsageError(f"--ports expects fixed or free, got {value!r}")
    return value


def parse_only(values: Iterable[str] | None) -> list[str] | None:
    """Parse `--only a,b` items into service names in start order, or None when not given."""
    if not values:
        return None
    names = {part.strip() for value in values for part in value.split(",") if part.strip()}
    names.discard(BROKER)
    unknown = sorted(names - set(SERVICE_ORDER))
    if unknown:
        raise UsageError(f"--only: unknown service(s) {', '.join(unknown)} (known: {', '.join(SERVICE_ORDER)})")
    return [name for name in SERVICE_ORDER if name in names]


# --------------------------------------------------------------------------- specs


def find_nats_server() -> str:
    """Return the path of the `nats-server` binary shipped in the venv (or on PATH)."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise FileNotFoundError("nats-server not found next to the Python interpreter nor on PATH")


def find_config_repo() -> Path | None:
    """Return the repository's committed `config-repo/` folder, if it can be found."""
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            if (folder / "config-repo").is_dir() and (folder / "pyproject.toml").is_file():
                return folder / "config-repo"
    return None


def free_port(avoid: set[int] | None = None) -> int:
    """Return a free TCP port on 127.0.0.1 (asks the OS by binding port 0)."""
    avoid = avoid or set()
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port
    raise RuntimeError("could not find a free port")


def common_env(data_dir: Path, ports: dict[str, int], demo: bool) -> dict[str, str]:
    """Return the GLUTA_* variables every service gets (ports: broker, discovery, config)."""
    env = {
        "GLUTA_HOST": HOST,
        "GLUTA_DATA_DIR": str(data_dir),
        "GLUTA_BUS_URL": f"nats://{HOST}:{ports.get(BROKER, paths.BROKER_PORT)}",
        "GLUTA_DISCOVERY_URL": f"http://{HOST}:{ports.get('discovery', SERVICE_PORTS['discovery'])}",
        "GLUTA_CONFIG_URL": f"http://{HOST}:{ports.get('config', SERVICE_PORTS['config'])}",
        "GLUTA_DEMO": "true" if demo else "false",
    }
    repo = find_config_repo()
    if repo is not None:
        env["GLUTA_CONFIG_REPO"] = str(repo)
    return env


def _instance_env(spec: ProcessSpec) -> dict[str, str]:
    return {"GLUTA_PORT": str(spec.port), "GLUTA_INSTANCE": str(spec.instance)}


def build_specs(options: UpOptions) -> list[ProcessSpec]:
    """Return the real process specs: the broker, then every service (and scaled instances).

    Local profile: NATS and SQLite. Production profile: a Tansu broker (unless an external Kafka is
    given), the databases, Redis and two instances of gateway, product and order (`options.stack`).
    """
    data_dir = options.data_dir
    fixed = options.ports == "fixed"
    used = set(paths.ALL_PORTS.values()) if fixed else set()

    def port_for(fixed_port: int, instance: int = 0) -> int:
        port = fixed_port if fixed and instance == 0 else free_port(used)
        used.add(port)
        return port

    stack = options.stack
    specs: list[ProcessSpec] = []
    if stack is None:
        port = port_for(paths.BROKER_PORT)
        argv = [find_nats_server(), "-a", HOST, "-p", str(port), "-js", "-sd", str(data_dir / "nats")]
        specs.append(ProcessSpec(BROKER, 0, port, argv, 0, kind="broker"))
        bus_url = f"nats://{HOST}:{port}"
    elif stack.kafka_url is None:
        from gluta_cli.production import KAFKA_PORT, tansu_argv

        port = port_for(KAFKA_PORT)
        specs.append(ProcessSpec(BROKER, 0, port, tansu_argv(port, stack.kafka_storage), 0, kind="broker",
                                 scheme="kafka"))
        bus_url = f"kafka://{HOST}:{port}"
    else:
        bus_url = stack.kafka_url
    scale = dict(options.scale)
    if stack is not None:
        from gluta_cli.production import SCALE

        scale = {**SCALE, **scale}
    wanted = options.only if options.only is not None else SERVICE_ORDER
    for group_index, group in enumerate(START_GROUPS, start=1):
        for name in group:
            if name not in wanted:
                continue
            for instance in range(scale.get(name, 1)):
                argv = [sys.executable, "-m", f"gluta_{name}"]
                specs.append(ProcessSpec(name, instance, port_for(SERVICE_PORTS[name], instance), argv, group_index))
    ports = {s.name: s.port for s in specs if s.instance == 0}
    base = common_env(data_dir, ports, options.demo)
    base["GLUTA_BUS_URL"] = bus_url
    base.update(edge_env(specs))
    for spec in specs:
        if spec.kind != "broker":
            spec.env = {**base, **_instance_env(spec)}
            if stack is not None:
                spec.env.update(stack.service_env(spec.name))
    return specs


WITH_DATABASE = {"user", "product", "order", "storefront", "admin"}
"""Services that migrate a database at start: their extra instances wait until the first one is up."""


def start_phases(specs: list[ProcessSpec]) -> list[list[ProcessSpec]]:
    """Return the start order: group by group, each phase healthy before the next.

    The first instance of a service that owns a database migrates it (and seeds the demo data) alone: its
    other instances start with the next group, so two instances never migrate one database at once. Extra
    instances of a service without a database start with their first one.
    """
    groups = sorted({s.group for s in specs})
    phases: list[list[ProcessSpec]] = []
    waiting: list[ProcessSpec] = []
    for group in groups:
        members = [s for s in specs if s.group == group]
        phases.append([s for s in members if s.instance == 0 or s.name not in WITH_DATABASE] + waiting)
        waiting = [s for s in members if s.instance > 0 and s.name in WITH_DATABASE]
    if waiting:
        phases.append(waiting)
    return [phase for phase in phases if phase]


def edge_env(specs: list[ProcessSpec]) -> dict[str, str]:
    """Return where the web front-ends find the gateways (every instance) and the storefront.

    Only set when it differs from the settings' defaults (fixed ports, one gateway): `gluta up` without
    options passes exactly what it always did.
    """
    gateways = [s.url for s in specs if s.name == "gateway"]
    storefront = next((s.url for s in specs if s.name == "storefront" and s.instance == 0), None)
    env: dict[str, str] = {}
    if gateways and gateways != [f"http://{HOST}:{SERVICE_PORTS['gateway']}"]:
        env["GLUTA_GATEWAY_URL"] = ",".join(gateways)  # storefront and admin take them in turn
    if storefront and storefront != f"http://{HOST}:{SERVICE_PORTS['storefront']}":
        env["GLUTA_STOREFRONT_URL"] = storefront  # links in mails (user) and from the admin site
    return env


def _expand(value: str, tokens: dict[str, str]) -> str:
    for key, replacement in tokens.items():
        value = value.replace("{" + key + "}", replacement)
    return value


def load_spec_file(path: Path, options: UpOptions) -> list[ProcessSpec]:
    """Build specs from a JSON list (test hook; see SPEC_FILE_ENV).

    Each item: {name, argv, port (0 = pick a free one), group, instance?, kind?: "service"|"broker",
    env?: {...}}. `{python}`, `{nats_server}`, `{data_dir}` and `{port}` in argv and env are expanded.
    """
    items: list[dict[str, Any]] = json.loads(Path(path).read_text(encoding="utf-8"))
    used: set[int] = set()
    specs: list[ProcessSpec] = []
    for item in items:
        port = int(item.get("port", 0)) or free_port(used)
        used.add(port)
        kind = str(item.get("kind", "service"))
        spec = ProcessSpec(
            name=str(item["name"]),
            instance=int(item.get("instance", 0)),
            port=port,
            argv=[str(a) for a in item["argv"]],
            group=int(item.get("group", 0 if kind == "broker" else 1)),
            kind=kind,
            env={str(k): str(v) for k, v in (item.get("env") or {}).items()},
        )
        specs.append(spec)
    if options.only is not None:
        specs = [s for s in specs if s.kind == "broker" or s.name in options.only]
    ports = {s.name: s.port for s in specs if s.instance == 0}
    base = common_env(options.data_dir, ports, options.demo)
    nats = shutil.which("nats-server") or str(Path(sys.executable).parent / "nats-server")
    for spec in specs:
        tokens = {
            "python": sys.executable,
            "nats_server": nats,
            "data_dir": str(options.data_dir),
            "port": str(spec.port),
        }
        spec.argv = [_expand(a, tokens) for a in spec.argv]
        own = {k: _expand(v, tokens) for k, v in spec.env.items()}
        spec.env = {} if spec.kind == "broker" else {**base, **_instance_env(spec)}
        spec.env.update(own)
    return specs


def default_spec_builder(options: UpOptions) -> list[ProcessSpec]:
    """Return the specs from $GLUTA_LAUNCHER_SPEC_FILE when set, else the real ones."""
    spec_file = os.environ.get(SPEC_FILE_ENV)
    if spec_file:
        return load_spec_file(Path(spec_file), options)
    return build_specs(options)


# --------------------------------------------------------------------------- ports


def port_in_use(port: int, host: str = HOST) -> bool:
    """Return True when binding host:port fails (something listens there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def port_holder(port: int) -> str | None:
    """Describe the process listening on a TCP port (`pid 123 (python …)`), when the OS tells."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, PermissionError, OSError):
        return None
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            try:
                proc = psutil.Process(conn.pid)
                cmd = " ".join(" ".join(proc.cmdline()).split()) or proc.name()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                cmd = "?"
            if len(cmd) > 80:
                cmd = cmd[:77] + "..."
            return f"pid {conn.pid} ({cmd})"
    return None


def check_ports(specs: Iterable[ProcessSpec]) -> list[str]:
    """Return one message per port that is already taken (empty when all are free)."""
    problems = []
    for spec in specs:
        if port_in_use(spec.port):
            holder = port_holder(spec.port)
            by = f" by {holder}" if holder else ""
            problems.append(
                f"port {spec.port} ({spec.label}) is already in use{by} — stop whatever holds it "
                f"(another `gluta up`? see `gluta status`) or leave that service out with --only"
            )
    return problems


# --------------------------------------------------------------------------- probes and logs


def tcp_ok(port: int, host: str = HOST, timeout: float = 0.5) -> bool:
    """Return True when a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_client(timeout: float = 2.0) -> httpx.Client:
    """Return an HTTP client for local probes (no proxies from the environment, no keep-alive)."""
    return httpx.Client(timeout=timeout, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0))


def http_ok(client: httpx.Client, url: str) -> bool:
    """Return True when GET url answers 200."""
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def tail_lines(path: Path, count: int = 15) -> list[str]:
    """Return the last `count` lines of a text file (empty when it does not exist)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read()
    except OSError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[-count:] if count else lines


# --------------------------------------------------------------------------- the launcher


class StopRequested(Exception):
    """A signal asked the launcher to stop."""


class StartupError(Exception):
    """A process failed to start, died while starting, or never became healthy/ready."""


def _pdeathsig_preexec(parent_pid: int) -> Callable[[], None] | None:
    """Return a preexec hook that makes the child get SIGTERM if the launcher dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # the launcher died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


@dataclass
class Child:
    """A started process."""

    spec: ProcessSpec
    proc: subprocess.Popen[bytes]
    log_path: Path
    log_fh: IO[bytes]
    create_time: float | None
    reported: bool = False

    def alive(self) -> bool:
        """Return True while the process has not exited."""
        return self.proc.poll() is None

    def record(self) -> ProcessRecord:
        """Return the processes.json record of this child."""
        return ProcessRecord(
            name=self.spec.name,
            instance=self.spec.instance,
            pid=self.proc.pid,
            port=self.spec.port,
            url=self.spec.url,
            log=str(self.log_path),
            createTime=self.create_time,
        )


class Launcher:
    """Start specs in groups, wait for health and readiness, supervise, and stop everything."""

    def __init__(
        self,
        data_dir: Path,
        specs: list[ProcessSpec],
        *,
        ready_timeout: float = 60.0,
        health_timeout: float = 60.0,
        out: TextIO | None = None,
        summary: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.specs = specs
        self.summary = summary or {}
        self.ready_timeout = ready_timeout
        self.health_timeout = health_timeout
        self.out = out or sys.stdout
        self.children: list[Child] = []
        self.stop_signal: int | None = None
        self.stopping = False
        self.force = False
        self.http = http_client(timeout=1.0)
        self._old_handlers: dict[int, Any] = {}
        self.janitor: Any = None  # the janitor's cron schedule (gluta_cli.janitor), started once all is ready

    # -- output

    def say(self, message: str = "") -> None:
        """Print a console line for the operator."""
        try:
            print(message, file=self.out, flush=True)
        except (OSError, ValueError):  # a closed terminal or pipe must not stop the shutdown
            pass

    # -- signals

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.stop_signal is not None or self.stopping:
            self.force = True  # a second Ctrl-C: do not wait for graceful exits
        self.stop_signal = signum

    def install_signal_handlers(self) -> None:
        """Turn SIGINT, SIGTERM and SIGHUP into an orderly stop."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)

    def restore_signal_handlers(self) -> None:
        """Put back the signal handlers that were there before."""
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        self._old_handlers.clear()

    def _check_stop(self) -> None:
        if self.stop_signal is not None:
            raise StopRequested()

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._check_stop()
            time.sleep(min(POLL_SECONDS, max(0.0, end - time.monotonic())))
        self._check_stop()

    # -- start

    def start(self, spec: ProcessSpec) -> Child:
        """Start one process with its output appended to its log file."""
        self._check_stop()
        log_path = paths.log_dir(self.data_dir) / spec.log_name
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_fh = open(log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        env = {**MALLOC_ENV, **os.environ, **spec.env, "PYTHONUNBUFFERED": "1"}
        try:
            proc = subprocess.Popen(
                spec.argv,
                stdin=subprocess.DEVNULL,
                stdout=log_fh,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_pdeathsig_preexec(os.getpid()),
            )
        except OSError as exc:
            log_fh.close()
            raise StartupError(f"{spec.label}: cannot start {spec.argv[0]!r}: {exc}") from exc
        try:
            create_time: float | None = psutil.Process(proc.pid).create_time()
        except psutil.Error:
            create_time = None
        child = Child(spec, proc, log_path, log_fh, create_time)
        self.children.append(child)
        paths.write_processes(self.data_dir, [c.record() for c in self.children])
        self.say(f"  started {spec.label:<12} pid {proc.pid:<7} {spec.url}")
        return child

    def _died_message(self, child: Child, what: str) -> str:
        tail = "\n".join("    " + line for line in tail_lines(child.log_path))
        how = exit_description(child.proc.returncode)
        return f"{child.spec.label} (pid {child.proc.pid}) {what} {how}; log {child.log_path}:\n{tail}"

    def wait_healthy(self, children: list[Child]) -> None:
        """Wait until each child answers (broker: TCP port, services: GET /health 200)."""
        pending = list(children)
        deadline = time.monotonic() + self.health_timeout
        while pending:
            for child in list(pending):
                if not child.alive():
                    child.reported = True
                    raise StartupError(self._died_message(child, "exited while starting"))
                if child.spec.kind == "broker":
                    ok = tcp_ok(child.spec.port)
                else:
                    ok = http_ok(self.http, child.spec.url + "/health")
                if ok:
                    pending.remove(child)
                    self.say(f"  healthy {child.spec.label}")
            if pending and time.monotonic() > deadline:
                names = ", ".join(c.spec.label for c in pending)
                tails = "\n".join(
                    f"  {c.spec.label} log tail:\n" + "\n".join("    " + ln for ln in tail_lines(c.log_path))
                    for c in pending
                )
                raise StartupError(f"not healthy after {self.health_timeout:.0f}s: {names}\n{tails}")
            if pending:
                self._sleep(POLL_SECONDS)

    def wait_ready(self) -> None:
        """Wait until every service answers GET /ready with 200."""
        pending = [c for c in self.children if c.spec.kind != "broker"]
        deadline = time.monotonic() + self.ready_timeout
        while pending:
            for child in list(pending):
                if not child.alive():
                    child.reported = True
                    raise StartupError(self._died_message(child, "exited before it was ready"))
                if http_ok(self.http, child.spec.url + "/ready"):
                    pending.remove(child)
            if pending and time.monotonic() > deadline:
                parts = []
                for child in pending:
                    tail = "\n".join("    " + ln for ln in tail_lines(child.log_path))
                    parts.append(
                        f"{child.spec.label} is not ready ({child.spec.url}/ready) after "
                        f"{self.ready_timeout:.0f}s; last lines of {child.log_path}:\n{tail}"
                    )
                raise StartupError("\n".join(parts))
            if pending:
                self._sleep(0.3)

    def start_all(self) -> None:
        """Start the specs phase by phase (see `start_phases`), waiting for health after each phase."""
        for phase in start_phases(self.specs):
            self.wait_healthy([self.start(spec) for spec in phase])

    # -- banner

    def banner(self) -> str:
        """Return the text printed once everything is ready."""
        started = {c.spec.name: c.spec for c in self.children if c.spec.instance == 0}
        lines = ["", f"Glutathione is up (data dir {self.data_dir})", ""]
        for name, title in (("storefront", "storefront"), ("admin", "admin")):
            if name in started:
                lines.append(f"  {title:<12} {started[name].url}")
        if "gateway" in started:
            url = started["gateway"].url
            lines.append(f"  {'API gateway':<12} {url}   (docs: {url}/docs)")
            more = [c.spec.url for c in self.children if c.spec.name == "gateway" and c.spec.instance > 0]
            if more:
                lines.append(f"  {'':<12} {', '.join(more)}   (more gateway instances)")
        others = [c.spec for c in self.children if c.spec.name not in ("storefront", "admin", "gateway")]
        if others:
            lines.append(f"  {'internal':<12} " + ", ".join(f"{s.label} :{s.port}" for s in others))
        if self.summary:
            lines.append("")
            lines.extend(f"  {key + ':':<12} {value}" for key, value in self.summary.items())
        lines.append("")
        lines.extend(demo_accounts_lines(self.data_dir))
        lines += [
            "",
            "  logs:    gluta logs [SERVICE] [--follow] [--trace ID]      status: gluta status",
            "  stop:    Ctrl-C",
            "",
        ]
        return "\n".join(lines)

    # -- supervise

    def supervise(self) -> int:
        """Report children that die unexpectedly (no restart) until a stop signal arrives."""
        while True:
            self._sleep(0.5)
            for child in self.children:
                if not child.reported and not child.alive():
                    child.reported = True
                    self.say(f"!! {self._died_message(child, 'exited unexpectedly')}")
                    self.say("!! the other processes keep running; Ctrl-C stops everything")
            if all(not c.alive() for c in self.children):
                self.say("!! every process has exited; stopping the launcher")
                return 1

    # -- stop

    def _signal(self, child: Child, sig: int) -> None:
        if child.proc.poll() is not None:
            return
        try:
            os.killpg(child.proc.pid, sig)  # the child leads its own session and group
        except (ProcessLookupError, PermissionError):
            try:
                child.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def _wait_exit(self, children: list[Child], deadline: float) -> None:
        while time.monotonic() < deadline and not self.force:
            if all(c.proc.poll() is not None for c in children):
                return
            time.sleep(0.05)

    def stop_all(self) -> None:
        """SIGTERM services in reverse order then the broker, wait up to 8 s, SIGKILL the rest."""
        self.stopping = True
        live = [c for c in reversed(self.children) if c.alive()]
        if live:
            self.say(f"stopping {len(live)} process(es)…")
        descendants: list[psutil.Process] = []
        for child in live:
            try:
                descendants += psutil.Process(child.proc.pid).children(recursive=True)
            except psutil.Error:
                pass
        services = [c for c in live if c.spec.kind != "broker"]
        brokers = [c for c in live if c.spec.kind == "broker"]
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in services:
            self._signal(child, signal.SIGTERM)
        self._wait_exit(services, deadline - (BROKER_GRACE_SECONDS if brokers else 0.0))
        for child in brokers:
            self._signal(child, signal.SIGTERM)
        self._wait_exit(live, deadline)
        for child in live:
            if child.alive():
                self.say(f"  {child.spec.label} (pid {child.proc.pid}) did not stop in time; killing it")
                self._signal(child, signal.SIGKILL)
        for proc in descendants:
            try:
                if proc.is_running():  # psutil checks the pid was not reused
                    proc.kill()
            except psutil.Error:
                pass
        for child in self.children:
            try:
                child.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.say(f"  {child.spec.label} (pid {child.proc.pid}) is still there after SIGKILL")
            child.log_fh.close()
        paths.remove_processes(self.data_dir)
        if live:
            self.say("stopped.")

    # -- everything

    def run(self) -> int:
        """Start, wait until ready, print the banner, supervise; stop everything on the way out."""
        self.install_signal_handlers()
        code = 0
        try:
            self.say(f"starting {len(self.specs)} process(es); logs in {paths.log_dir(self.data_dir)}")
            self.start_all()
            self.say("  waiting until every service is ready…")
            self.wait_ready()
            self.say(self.banner())
            self.janitor = start_janitor_schedule(self.data_dir, self.specs)
            code = self.supervise()
        except StopRequested:
            assert self.stop_signal is not None
            self.say(f"received {signal.Signals(self.stop_signal).name}")
            code = 0
        except StartupError as exc:
            self.say(f"!! startup failed: {exc}")
            code = 1
        finally:
            if self.janitor is not None:
                self.janitor.stop()
            try:
                self.stop_all()
            finally:
                self.http.close()
                self.restore_signal_handlers()
        return code


def start_janitor_schedule(data_dir: Path, specs: list[ProcessSpec]) -> Any:
    """Start the janitor's schedule, reading `janitor_cron` from the config service at every tick."""
    from gluta_cli.janitor import JanitorSchedule

    config = next((s for s in specs if s.name == "config" and s.instance == 0), None)
    config_url = config.url if config else f"http://{HOST}:{SERVICE_PORTS['config']}"
    return JanitorSchedule(data_dir, config_url).start()


def exit_description(returncode: int | None) -> str:
    """Return `with exit code 3` or `killed by SIGTERM` for a Popen return code."""
    if returncode is not None and returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"with exit code {returncode}"


def demo_accounts_lines(data_dir: Path) -> list[str]:
    """Return banner lines listing `<data_dir>/demo-accounts.json`, or `demo accounts: (none)`."""
    path = data_dir / "demo-accounts.json"
    try:
        accounts = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        accounts = None
    if not isinstance(accounts, list) or not accounts:
        return ["  demo accounts: (none)"]
    lines = ["  demo accounts:"]
    for acc in accounts:
        if isinstance(acc, dict):
            role, login, password = (acc.get(key, "?") for key in ("role", "loginId", "password"))
            lines.append(f"    {str(role):<8} login {login}  password {password}")
    return lines


def run_up(options: UpOptions, spec_builder: SpecBuilder | None = None, out: TextIO | None = None) -> int:
    """Run `gluta up`: 2 when a port is taken or a value is bad, 1 when startup fails, 0 after an orderly stop."""
    from gluta_cli import production

    out = out or sys.stdout
    try:
        if options.production is not None:
            options.stack = production.open_state(options.data_dir, options.production)
        specs = (spec_builder or default_spec_builder)(options)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        print(f"gluta up: {exc}", file=sys.stderr)
        return 2
    problems = check_ports(specs)
    if problems:
        for problem in problems:
            print(f"gluta up: {problem}", file=sys.stderr)
        return 2
    for folder in (paths.log_dir(options.data_dir), paths.run_dir(options.data_dir)):
        folder.mkdir(parents=True, exist_ok=True)
    stack = options.stack
    summary = local_summary(specs) if stack is None else {}
    if stack is not None:
        print(f"preparing the production stack: databases {stack.prefix}_* on the MariaDB/MySQL server, Redis…",
              file=out, flush=True)
        try:
            production.provision(options.data_dir, stack)
        except production.ProductionError as exc:
            print(f"gluta up: {exc}", file=sys.stderr)
            return 1
        os.environ.setdefault("GLUTA_INTERNAL_TOKEN", stack.internal_token)  # the janitor's schedule in here
        bus = next((s.url for s in specs if s.kind == "broker"), stack.kafka_url or "")
        summary = stack.summary(bus)
    paths.write_stack(options.data_dir, summary)
    launcher = Launcher(
        options.data_dir,
        specs,
        ready_timeout=options.ready_timeout,
        health_timeout=options.health_timeout,
        out=out,
        summary=summary,
    )
    try:
        return launcher.run()
    finally:
        paths.remove_stack(options.data_dir)
        if stack is not None and stack.ephemeral:
            try:
                print(f"ephemeral stack: {production.teardown(options.data_dir, stack)}", file=out, flush=True)
            except Exception as exc:  # report and leave: the operator can run `gluta drop-production`
                print(f"gluta up: could not remove the ephemeral stack {stack.prefix}: {exc}", file=sys.stderr)


def local_summary(specs: list[ProcessSpec]) -> dict[str, str]:
    """Return what the local profile runs on: its own NATS, SQLite files, no cache."""
    bus = next((s.url for s in specs if s.kind == "broker"), "")
    return {"profile": "local", "bus": f"NATS JetStream at {bus.removeprefix('nats://')}",
            "database": "SQLite, one file per service under <data dir>/db", "cache": "none (in-process)"}
