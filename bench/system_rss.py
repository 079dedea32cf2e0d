"""Total memory of the whole idle system in local mode, started the way `make run` starts it.

Usage: .venv/bin/python bench/system_rss.py [--idle-seconds 20] [--data-dir DIR]

Starts `gluta up` in a temporary data dir (demo data on), waits until every process is ready, lets it
idle, then prints RSS per process (what `gluta status` shows) and the total — the goal is at most
600 MB for all processes including the broker — plus PSS (shared pages split between processes), and
stops everything.
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

import psutil

ROOT = Path(__file__).resolve().parent.parent
GLUTA = str(Path(sys.executable).parent / "gluta")


def wait_until_ready(data_dir: Path, launcher: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if launcher.poll() is not None:
            raise SystemExit(f"gluta up exited with {launcher.returncode}")
        status = subprocess.run([GLUTA, "status", "--json", "--data-dir", str(data_dir)], capture_output=True,
                                text=True)
        if status.returncode == 0:
            body = json.loads(status.stdout)
            if body["processes"] and all(p["health"] == "ok" for p in body["processes"]):
                if (data_dir / "run" / "processes.json").exists() and _banner_printed(data_dir):
                    return
        time.sleep(1)
    raise SystemExit("the system did not become ready in time")


def _banner_printed(data_dir: Path) -> bool:
    return (data_dir / "bench-launcher.out").read_text(errors="replace").count("http://127.0.0.1:8000") > 0


def pss_mb(pid: int) -> float:
    total = 0
    proc = psutil.Process(pid)
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total / 1024 / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle-seconds", type=float, default=20)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="gluta-rss-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    out = open(data_dir / "bench-launcher.out", "wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLUTA_")}
    launcher = subprocess.Popen([GLUTA, "up", "--data-dir", str(data_dir)], stdout=out, stderr=subprocess.STDOUT,
                                cwd=ROOT, env=env)
    try:
        wait_until_ready(data_dir, launcher)
        time.sleep(args.idle_seconds)
        body = json.loads(subprocess.run([GLUTA, "status", "--json", "--data-dir", str(data_dir)],
                                         capture_output=True, text=True, check=True).stdout)
        print(f"{'process':<14}{'pid':>8}{'RSS MB':>10}{'PSS MB':>10}")
        total_pss = 0.0
        for proc in body["processes"]:
            pss = pss_mb(proc["pid"])
            total_pss += pss
            label = proc["name"] + (f"-{proc['instance']}" if proc["instance"] else "")
            print(f"{label:<14}{proc['pid']:>8}{proc['rssMb']:>10.1f}{pss:>10.1f}")
        print(f"{'total':<14}{'':>8}{body['totalRssMb']:>10.1f}{total_pss:>10.1f}")
        goal = 600
        verdict = "meets" if body["totalRssMb"] <= goal else "misses"
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"goal: total RSS <= {goal} MB -> {verdict} "
              f"({body['totalRssMb']:.1f} MB after {args.idle_seconds:.0f} s idle; "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {load})")
    finally:
        launcher.send_signal(signal.SIGTERM)
        try:
            launcher.wait(timeout=20)
        except subprocess.TimeoutExpired:
            launcher.kill()
        out.close()


if __name__ == "__main__":
    main()
