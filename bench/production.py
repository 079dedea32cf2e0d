"""The production stack against local mode, side by side in one run: checkout and the first-come coupon burst.

For each stack in `--stacks` (default `local,production`) this starts the whole system with `gluta up
--ports free` — local: NATS, SQLite, one instance each; production: MariaDB with a database and a user per
service, Redis, the Kafka protocol through Tansu, two instances of gateway, product and order (`--profile
production --ephemeral`: its databases and Redis keys are removed at the end) — then runs, through its
gateways, as any client would:

1. bench/checkout.py: confirmed orders/s (throughput phase) and POST-to-CONFIRMED p99 at `--rate`/s;
2. bench/coupon_storm.py: `--claims` claims by `--members` members for a coupon of `--quantity` copies, spread
   over every gateway of the stack (two in production): claims/s, exactly `--quantity` issued, nobody twice.

    GLUTA_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test GLUTA_TEST_REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/production.py

Goals (issue 14): checkout >= 300 confirmed/s; coupon burst >= 3,000 claims/s and exact. The figures, the
machine load and the date are printed and written to bench/results/production.json. Product search at
100,000 products on MariaDB (what the production stack's product service runs on) is bench/product_search.py
--database mysql --gateway.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
RESULTS = ROOT / "bench" / "results"


class Stack:
    """`gluta up --ports free` of one profile in a temporary data dir, stopped (and removed) on exit."""

    def __init__(self, profile: str, workdir: Path, mysql_url: str | None, redis_url: str | None) -> None:
        self.profile = profile
        self.data_dir = workdir / profile / "var"
        self.data_dir.mkdir(parents=True)
        self.output = workdir / profile / "up.out"
        argv = [sys.executable, "-m", "gluta_cli", "up", "--data-dir", str(self.data_dir), "--ports", "free",
                "--ready-timeout", "300"]
        if profile == "production":
            if not (mysql_url and redis_url):
                raise SystemExit("the production stack needs GLUTA_TEST_MYSQL_URL and GLUTA_TEST_REDIS_URL")
            argv += ["--profile", "production", "--mysql-url", mysql_url.rsplit("/", 1)[0], "--redis-url", redis_url,
                     "--ephemeral"]
        self.argv = argv
        self.process: subprocess.Popen[bytes] | None = None
        self.pids: dict[int, float | None] = {}

    def __enter__(self) -> Stack:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GLUTA_")}
        env["GLUTA_LOG_LEVEL"] = "WARNING"  # as a loaded production runs: no line per request
        started = time.monotonic()
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        while "Glutathione is up" not in self.output.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() - started > 600:
                raise RuntimeError(f"gluta up failed:\n{self.output.read_text(errors='replace')[-3000:]}")
            time.sleep(1)
        self.records = json.loads((self.data_dir / "run" / "processes.json").read_text())
        self.pids = {r["pid"]: r.get("createTime") for r in self.records}
        self.summary = json.loads((self.data_dir / "run" / "stack.json").read_text())
        accounts = {a["role"]: a for a in json.loads((self.data_dir / "demo-accounts.json").read_text())}
        self.admin = (accounts["admin"]["loginId"], accounts["admin"]["password"])
        self.gateways = [r["url"] for r in self.records if r["name"] == "gateway"]
        print(f"[{self.profile}] up in {time.monotonic() - started:.0f} s: " + "; ".join(
            f"{k}: {v}" for k, v in self.summary.items() if k != "profile"), flush=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        for pid, created in self.pids.items():  # only what this launcher started
            try:
                proc = psutil.Process(pid)
                if created is None or abs(proc.create_time() - created) < 1.0:
                    proc.kill()
            except psutil.Error:
                pass


def run_bench(argv: list[str], out: Path) -> dict[str, Any]:
    """Run one bench script (its figures go to `out`) and return them."""
    print("  $ " + " ".join(argv[1:]), flush=True)
    done = subprocess.run(argv + ["--out", str(out)], cwd=ROOT, check=False)
    if not out.exists():
        raise RuntimeError(f"{argv[1]} wrote no results (exit {done.returncode})")
    result: dict[str, Any] = json.loads(out.read_text())
    result["exit"] = done.returncode
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stacks", default="local,production")
    parser.add_argument("--orders", type=int, default=2_000, help="checkout: orders of the throughput phase")
    parser.add_argument("--rate", type=float, default=50.0, help="checkout: orders per second of the latency phase")
    parser.add_argument("--duration", type=float, default=20.0, help="checkout: seconds of the latency phase")
    parser.add_argument("--claims", type=int, default=4_000)
    parser.add_argument("--members", type=int, default=1_000, help="signed up through the API (two Argon2 hashes each)")
    parser.add_argument("--quantity", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=200, help="coupon burst: connections, over the gateways")
    args = parser.parse_args()
    from gluta_kit.testing import server_url

    workdir = Path(tempfile.mkdtemp(prefix="gluta-production-bench-"))
    results: dict[str, Any] = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpus": os.cpu_count(), "stacks": {}}
    for profile in [s.strip() for s in args.stacks.split(",") if s.strip()]:
        with Stack(profile, workdir, server_url("mysql"), server_url("redis")) as stack:
            load = os.getloadavg()[0]
            checkout = run_bench([sys.executable, "bench/checkout.py", "--base-url", stack.gateways[0],
                                  "--admin-login-id", stack.admin[0], "--admin-password", stack.admin[1],
                                  "--orders", str(args.orders), "--rate", str(args.rate),
                                  "--duration", str(args.duration)], workdir / f"{profile}-checkout.json")
            storm = run_bench([sys.executable, "bench/coupon_storm.py", "--gateway", ",".join(stack.gateways),
                               "--admin-login-id", stack.admin[0], "--admin-password", stack.admin[1],
                               "--token-source", "signup", "--skip-ceiling", "--member-prefix", f"p{profile[0]}",
                               "--token-cache", str(workdir / f"{profile}-tokens.json"),
                               "--claims", str(args.claims), "--members", str(args.members),
                               "--quantity", str(args.quantity), "--concurrency", str(args.concurrency)],
                              workdir / f"{profile}-storm.json")
            instances: dict[str, int] = {}
            for record in stack.records:
                instances[record["name"]] = instances.get(record["name"], 0) + 1
            results["stacks"][profile] = {"summary": stack.summary, "gateways": len(stack.gateways),
                                          "instances": instances,
                                          "checkout": checkout, "coupon_burst": storm,
                                          "machine_load": [round(load, 2), round(os.getloadavg()[0], 2)]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "production.json").write_text(json.dumps(results, indent=2))
    print(f"\n{'stack':<11} {'checkout confirmed/s':>21} {'p99 at rate ms':>15} {'claims/s':>9} {'issued':>7} "
          f"{'twice':>6} {'5xx':>4} {'load':>10}")
    for profile, r in results["stacks"].items():
        throughput, latency = r["checkout"].get("throughput", {}), r["checkout"].get("latency", {})
        (storm,) = r["coupon_burst"].get("runs", [{}])[:1] or [{}]
        print(f"{profile:<11} {throughput.get('confirmed_per_s', '-'):>21} {latency.get('p99_ms', '-'):>15} "
              f"{storm.get('claims_per_s', '-'):>9} {storm.get('issued', '-'):>7} {storm.get('members_twice', '-'):>6} "
              f"{storm.get('server_errors', '-'):>4} {str(r['machine_load']):>10}")
    print(f"results written to {RESULTS / 'production.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
