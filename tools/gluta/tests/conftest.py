"""Shared fixtures: a stand-in service module and a helper to run `gluta` as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FAKE_SERVICE = textwrap.dedent(
    '''
    """Stand-in service: /health and /ready with the stdlib, JSON log lines on stdout."""
    import json, os, signal, sys, threading
    from datetime import datetime, timezone
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    PORT = int(os.environ["GLUTA_PORT"])
    NAME = os.environ.get("FAKE_NAME", "fake")
    READY = os.environ.get("FAKE_READY", "1") == "1"
    DIE_AFTER = float(os.environ.get("FAKE_DIE_AFTER", "0"))
    IGNORE_TERM = os.environ.get("FAKE_IGNORE_TERM") == "1"

    def log(event, **extra):
        line = {"timestamp": datetime.now(timezone.utc).isoformat(), "level": "info", "event": event,
                "service": NAME, "traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331"}
        line.update(extra)
        print(json.dumps(line), flush=True)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            ok = self.path == "/health" or (self.path == "/ready" and READY)
            self.send_response(200 if ok else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    def on_term(*_):
        if IGNORE_TERM:
            log("ignoring SIGTERM")
            return
        log("stopping")
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    env = {k: v for k, v in os.environ.items() if k.startswith("GLUTA_")}
    log("started", port=PORT, env=env)
    if DIE_AFTER:
        def die():
            print("Traceback (most recent call last):", flush=True)
            print("RuntimeError: stand-in crashed on purpose", flush=True)
            os._exit(3)
        threading.Timer(DIE_AFTER, die).start()
    server.serve_forever()
    '''
)


@pytest.fixture
def fake_service(tmp_path: Path) -> Path:
    """Write the stand-in service module and return its path."""
    path = tmp_path / "fake_service.py"
    path.write_text(FAKE_SERVICE, encoding="utf-8")
    return path


class Gluta:
    """Run the `gluta` command as a subprocess with this interpreter."""

    @staticmethod
    def env(**extra: str) -> dict[str, str]:
        """Return an environment without the caller's GLUTA_* settings, plus `extra`."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GLUTA_")}
        env.update(extra)
        return env

    @staticmethod
    def cmd(*args: str) -> list[str]:
        """Return the command line of `gluta ARGS`."""
        return [sys.executable, "-m", "gluta_cli", *args]

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        """Run `gluta ARGS` to completion and capture its output."""
        return subprocess.run(
            self.cmd(*args), env=env or self.env(), capture_output=True, text=True, timeout=timeout, check=False
        )


@pytest.fixture
def gluta() -> Gluta:
    """Return the `gluta` subprocess helper."""
    return Gluta()
