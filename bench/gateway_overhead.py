"""What the API gateway costs: one trivial endpoint reached directly and through the gateway.

    .venv/bin/python bench/gateway_overhead.py [--seconds 8] [--rounds 3] [--connections 64] [--nice -10]
        [--redis-url redis://127.0.0.1:6379/0]

Starts, on free ports of 127.0.0.1: a discovery service, a stand-in `product` service (built on the
kit like the real ones, registered in discovery, serving GET /types) and the gateway (as
`python -m gluta_gateway` runs it), all as real processes logging JSON lines to files as in
production. Then it loads GET /types directly and GET /api/product-service/types through the
gateway with `wrk` (1 thread, so the load generator takes as little of the 2 cores as possible),
direct and gateway runs alternating, and prints the medians of req/s, p50 and p99, the ratio, the
CPU time each process spends per request, and the latency the gateway adds:
  - at 64 connections as fast as possible (throughput; latency here is mostly queueing),
  - at 64 connections paced (random pauses) to 40% of what the gateway path sustains: latency
    under load without a queue,
  - at 1 connection: the unloaded cost of one extra hop.
The gateway path needs twice the processes and wake-ups of the direct one, so other work on the
machine hurts it more: the load average is printed, and `--nice -10` (root) runs the measured
processes and wrk ahead of it. Everything started is stopped at the end.
With `--redis-url` the gateway's rate limits live in Redis, shared as by several gateway instances (one
script call per event-loop step instead of an in-process bucket), so the two runs compare what sharing
the limits costs.
Needs `wrk`: `apt-get install -y wrk` (Debian); without it the script says so and exits with 2.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

import httpx
import psutil

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
NICE: list[str] = []  # `nice -n N` for wrk too, when --nice is given


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- the stand-in upstream


def serve_upstream(port: int, discovery_url: str) -> None:
    """Run a stand-in `product` service on the kit: GET /types, registered in discovery."""
    from fastapi import APIRouter

    from gluta_kit.logging import setup_logging
    from gluta_kit.service import Service, run
    from gluta_kit.settings import ServiceSettings

    class StandInSettings(ServiceSettings):
        service_name: ClassVar[str] = "product"
        reads_remote_config: ClassVar[bool] = False

    router = APIRouter()
    types = [{"productTypeId": 1, "type": "serum"}, {"productTypeId": 2, "type": "cream"}]

    @router.get("/types")
    async def list_types() -> list[dict[str, object]]:
        return types

    setup_logging("product")
    settings = StandInSettings(port=port, discovery_url=discovery_url, config_url=None)
    run(Service(settings, uses_bus=False).create_app([router]), settings)


# --------------------------------------------------------------------------- processes


class Processes:
    """Child processes started by this benchmark, stopped by pid at the end."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str], nice: int = 0) -> None:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        if nice:
            argv = ["nice", "-n", str(nice), *argv]
        proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        self.children.append((name, proc))

    def pid(self, name: str) -> int:
        return next(proc.pid for n, proc in self.children if n == name)

    def check_alive(self) -> None:
        for name, proc in self.children:
            if proc.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"{name} exited with {proc.returncode}:\n{tail}")

    def stop(self) -> None:
        for _, proc in reversed(self.children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        for _, proc in reversed(self.children):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(url: str, procs: Processes, timeout: float = 60.0) -> None:
    """Wait until `url` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs.check_alive()
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer 200 within {timeout:.0f}s")


# --------------------------------------------------------------------------- load


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, connections: int, seconds: float, delay_ms: float | None = None) -> dict[str, float]:
    """Run wrk against `url`; return req/s, p50 and p99 in ms, and the count of errors."""
    argv = [*NICE, "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "5s"]
    script = None
    if delay_ms is not None:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115
        # a random pause (mean `delay_ms`) so the connections do not fall into step and arrive in bursts
        script.write(f"function delay()\n  return math.random(0, {round(2 * delay_ms)})\nend\n")
        script.close()
        argv += ["-s", script.name]
    try:
        out = subprocess.run([*argv, url], check=True, capture_output=True, text=True).stdout
    finally:
        if script is not None:
            os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = 0.0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        errors += float(non2xx.group(1))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(float(g) for g in socket_errors.groups())
    return {"rps": rps, "p50": p50, "p99": p99, "errors": errors}


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) a process has used."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def median_of(results: list[dict[str, float]]) -> dict[str, float]:
    """Return the median of each figure over several runs."""
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def row(label: str, result: dict[str, float]) -> str:
    errors = f"   errors {int(result['errors'])}" if result["errors"] else ""
    return f"  {label:<30} {result['rps']:>9.0f} {result['p50']:>9.2f} {result['p99']:>9.2f}{errors}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each measured run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are printed")
    parser.add_argument("--nice", type=int, default=0,
                        help="run the measured processes and wrk at this nice value (negative needs root): on a "
                             "shared machine, other work then disturbs the comparison less")
    parser.add_argument("--keep-logs", action="store_true", help="keep the services' logs (printed folder)")
    parser.add_argument("--redis-url", help="count the rate limits in this Redis (shared limits) instead of in-process")
    parser.add_argument("--serve-upstream", nargs=2, metavar=("PORT", "DISCOVERY_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(int(args.serve_upstream[0]), args.serve_upstream[1])
        return 0
    if shutil.which("wrk") is None:
        print("gateway_overhead: `wrk` is not installed. Install it with `apt-get install -y wrk` "
              "(Debian's package) and run again.", file=sys.stderr)
        return 2

    if args.nice:
        NICE[:] = ["nice", "-n", str(args.nice)]
    discovery_port, upstream_port, gateway_port = free_port(), free_port(), free_port()
    discovery_url = f"http://{HOST}:{discovery_port}"
    tmp = tempfile.mkdtemp(prefix="gluta-bench-gw-")
    try:
        base_env = {"GLUTA_HOST": HOST, "GLUTA_DATA_DIR": tmp, "GLUTA_CONFIG_URL": "", "GLUTA_BUS_URL": "",
                    "GLUTA_DISCOVERY_URL": discovery_url, "GLUTA_LOG_LEVEL": "INFO"}
        procs = Processes(Path(tmp))
        try:
            procs.start("discovery", [PYTHON, "-m", "gluta_discovery"],
                        {**base_env, "GLUTA_PORT": str(discovery_port), "GLUTA_DISCOVERY_URL": ""})
            wait_for(f"{discovery_url}/health", procs)
            procs.start("product", [PYTHON, __file__, "--serve-upstream", str(upstream_port), discovery_url], base_env,
                        nice=args.nice)
            procs.start("gateway", [PYTHON, "-m", "gluta_gateway"], nice=args.nice, env={
                **base_env, "GLUTA_PORT": str(gateway_port),
                "GLUTA_ROUTED_SERVICES": '["product"]',  # ready (and routing) with the one stand-in service
                # one load generator is one address: lift the guest limit so it measures the gateway,
                # while the limiter itself still runs on every request
                "GLUTA_RATE_LIMIT_GUEST_PER_SECOND": "1000000000", "GLUTA_RATE_LIMIT_GUEST_BURST": "1000000000",
                **({"GLUTA_REDIS_URL": args.redis_url, "GLUTA_REDIS_KEY_PREFIX": f"gluta-bench:{os.getpid()}:"}
                   if args.redis_url else {}),
            })
            wait_for(f"http://{HOST}:{upstream_port}/health", procs)
            wait_for(f"http://{HOST}:{gateway_port}/ready", procs)
            direct = f"http://{HOST}:{upstream_port}/types"
            through = f"http://{HOST}:{gateway_port}/api/product-service/types"
            a, b = httpx.get(direct), httpx.get(through)
            if a.status_code != 200 or b.status_code != 200 or a.json() != b.json():
                raise SystemExit(f"the two endpoints disagree: {a.status_code} {a.text!r} / {b.status_code} {b.text!r}")

            conns, secs = args.connections, args.seconds
            pids = {"gateway": procs.pid("gateway"), "product": procs.pid("product")}
            wrk(direct, conns, 2)  # warm up both paths (connection pools, caches, lazy imports)
            wrk(through, conns, 2)
            load_before = os.getloadavg()[0]
            runs: dict[str, list[dict[str, float]]] = {}

            def measure(name: str, url: str, connections: int, seconds: float, delay_ms: float | None = None,
                        cpu_of: tuple[str, ...] = ()) -> None:
                before = {p: cpu_seconds(pids[p]) for p in cpu_of}
                result = wrk(url, connections, seconds, delay_ms)
                done = result["rps"] * max(1, round(seconds))
                for p in cpu_of:
                    result[f"cpu_us_{p}"] = (cpu_seconds(pids[p]) - before[p]) / done * 1e6
                runs.setdefault(name, []).append(result)

            pace_rps = delay = 0.0
            for round_no in range(args.rounds):  # direct and gateway alternate, so background load hits both
                measure("direct", direct, conns, secs, cpu_of=("product",))
                measure("gateway", through, conns, secs, cpu_of=("gateway", "product"))
                if round_no == 0:
                    # paced: each connection waits so that the offered load is about 40% of what the gateway
                    # path sustains: latency under load without a queue
                    pace_rps = 0.4 * runs["gateway"][0]["rps"]
                    delay = max(1.0, conns / pace_rps * 1000.0)
                measure("direct_paced", direct, conns, secs, delay_ms=delay)
                measure("gateway_paced", through, conns, secs, delay_ms=delay)
                measure("direct_1", direct, 1, max(1, round(secs / 2)))
                measure("gateway_1", through, 1, max(1, round(secs / 2)))
            results = {name: median_of(items) for name, items in runs.items()}
            load_after = os.getloadavg()[0]
            procs.check_alive()
        finally:
            procs.stop()
    finally:
        if args.keep_logs:
            print(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    d, g = results["direct"], results["gateway"]
    one = max(1, round(args.seconds / 2))
    print("gateway overhead: GET /types direct vs GET /api/product-service/types through the gateway"
          + (" (rate limits in Redis, shared)" if args.redis_url else " (rate limits in-process)"))
    print(f"wrk 1 thread, {args.seconds:g}s per run ({one}s at 1 connection), median of {args.rounds} alternating "
          f"rounds; {os.cpu_count()} CPUs, load average {load_before:.2f} before, {load_after:.2f} after"
          + (f"; measured processes at nice {args.nice}" if args.nice else ""))
    print(f"  {'run':<30} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9}")
    print(row(f"{conns} conn, direct", d))
    print(row(f"{conns} conn, through gateway", g))
    print(row(f"{conns} conn paced, direct", results["direct_paced"]))
    print(row(f"{conns} conn paced, through gateway", results["gateway_paced"]))
    print(row("1 conn, direct", results["direct_1"]))
    print(row("1 conn, through gateway", results["gateway_1"]))
    print(f"CPU per request at {conns} connections: service alone {d['cpu_us_product']:.0f} us; through the gateway: "
          f"gateway {g['cpu_us_gateway']:.0f} us + service {g['cpu_us_product']:.0f} us")
    print(f"throughput ratio at {conns} connections (gateway/direct): {g['rps'] / d['rps']:.2f}   (goal >= 0.60)")
    print(f"added p50 at {conns} connections, saturated: {g['p50'] - d['p50']:+.2f} ms")
    print(f"added p50 at {conns} connections, paced to {pace_rps:.0f} req/s offered: "
          f"{results['gateway_paced']['p50'] - results['direct_paced']['p50']:+.2f} ms   (goal <= 1 ms)")
    print(f"added p50 at 1 connection: {results['gateway_1']['p50'] - results['direct_1']['p50']:+.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
