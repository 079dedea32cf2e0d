"""The product service's image storage adapters: idle memory, and CPU per upload and per image read.

Usage: .venv/bin/python bench/image_storage.py [--uploads 100] [--reads 400] [--rounds 2]

Starts moto's S3 server (the dev group's) and, in turn, the product service as its own process
(`python -m gluta_product`, SQLite, demo data off, NATS from GLUTA_TEST_NATS_URL or a nats-server of
its own) once with the local folder and once with an `s3://` bucket. For each it prints the process's
RSS and PSS after start and idle (the S3 client library is imported only in S3 mode), then the
server's CPU time (utime+stime from /proc) per upload (`POST /images`) and per image read
(`GET /images/{id}`, a 200 with the bytes), with wall time, next to the load average. Stops all it
started.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil
from PIL import Image

from gluta_kit.testing import NatsProcess, TestKeys, free_port

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def wait_port(port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not start")


def serve_jwks(keys: TestKeys) -> tuple[ThreadingHTTPServer, str]:
    body = json.dumps(keys.jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/jwks.json"


def picture(i: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 150), (i % 256, (i * 7) % 256, (i * 13) % 256)).save(out, format="JPEG", quality=90)
    return out.getvalue()


def run_mode(mode: str, env: dict[str, str], args: argparse.Namespace, keys: TestKeys) -> dict[str, float]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"bench-images-{mode}-") as data_dir:
        proc_env = {**env, "GLUTA_PORT": str(port), "GLUTA_DATA_DIR": data_dir,
                    "GLUTA_BUS_NAMESPACE": f"bench-{uuid.uuid4().hex[:8]}"}
        process = subprocess.Popen([sys.executable, "-m", "gluta_product"], env=proc_env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port, process, "the product service")
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=30) as client:
                ready = client.get("/ready")
                assert ready.status_code == 200, ready.text
                time.sleep(args.idle_seconds)
                info = psutil.Process(process.pid).memory_full_info()
                idle = {"rss": info.rss / 2**20, "pss": info.pss / 2**20}
                headers = keys.bearer(1, "admin")
                images = [picture(i) for i in range(args.uploads)]
                cpu0, t0 = cpu_seconds(process.pid), time.perf_counter()
                ids = []
                for data in images:
                    response = client.post("/images", files={"file": ("p.jpg", data)}, headers=headers)
                    assert response.status_code == 201, response.text
                    ids.append(response.json()["imageId"])
                cpu1, t1 = cpu_seconds(process.pid), time.perf_counter()
                for i in range(args.reads):
                    response = client.get(f"/images/{ids[i % len(ids)]}")
                    assert response.status_code == 200 and len(response.content) > 0
                cpu2, t2 = cpu_seconds(process.pid), time.perf_counter()
                info = psutil.Process(process.pid).memory_full_info()
        finally:
            process.terminate()
            process.wait(timeout=15)
    return {**idle, "rss_after": info.rss / 2**20, "upload_cpu_ms": 1000 * (cpu1 - cpu0) / args.uploads,
            "upload_wall_ms": 1000 * (t1 - t0) / args.uploads, "read_cpu_ms": 1000 * (cpu2 - cpu1) / args.reads,
            "read_wall_ms": 1000 * (t2 - t1) / args.reads, "bytes": sum(map(len, images)) / len(images)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--reads", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    args = parser.parse_args()

    started: list[subprocess.Popen[bytes]] = []
    nats = None
    nats_url = os.environ.get("GLUTA_TEST_NATS_URL")
    if not nats_url:
        nats = NatsProcess(Path(tempfile.mkdtemp(prefix="bench-nats-")))
        nats.start()
        nats_url = nats.url
    s3_port = free_port()
    moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started.append(moto)
    keys = TestKeys()
    jwks_server, jwks_url = serve_jwks(keys)
    try:
        wait_port(s3_port, moto, "moto's S3 server")
        endpoint = f"http://127.0.0.1:{s3_port}"
        import boto3

        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                     aws_secret_access_key="bench").create_bucket(Bucket="bench-images")
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("GLUTA_", "AWS_"))}
        base_env.update(GLUTA_CONFIG_URL="", GLUTA_DISCOVERY_URL="", GLUTA_BUS_URL=nats_url,
                        GLUTA_JWKS_URL=jwks_url, GLUTA_LOG_LEVEL="WARNING")
        modes = {"local": base_env,
                 "s3": {**base_env, "GLUTA_IMAGE_STORAGE_URL": f"s3://bench-images/img?endpoint={endpoint}",
                        "GLUTA_IMAGE_STORAGE_ACCESS_KEY_ID": "bench", "GLUTA_IMAGE_STORAGE_SECRET_ACCESS_KEY": "bench"}}
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; {args.uploads} uploads and {args.reads} "
              f"reads per run, product service as its own process, moto's S3 server on the same machine")
        print(f"{'mode':5} {'idle RSS MB':>11} {'idle PSS MB':>11} {'RSS after':>9} {'upload CPU ms':>13} "
              f"{'upload wall ms':>14} {'read CPU ms':>11} {'read wall ms':>12}  load average")
        for _ in range(args.rounds):
            for mode, env in modes.items():
                figures = run_mode(mode, env, args, keys)
                print(f"{mode:5} {figures['rss']:11.1f} {figures['pss']:11.1f} {figures['rss_after']:9.1f} "
                      f"{figures['upload_cpu_ms']:13.2f} {figures['upload_wall_ms']:14.2f} "
                      f"{figures['read_cpu_ms']:11.2f} {figures['read_wall_ms']:12.2f}  {load()}", flush=True)
    finally:
        jwks_server.shutdown()
        for process in started:
            process.terminate()
            process.wait(timeout=10)
        if nats:
            nats.stop()


if __name__ == "__main__":
    main()
