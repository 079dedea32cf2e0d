"""`gluta status`, `dlq`, `config refresh`, `admin create`, `mail` and the argparse wiring."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
import pytest

from gluta_cli import dlq, mail, main, ops, paths, status
from gluta_cli.paths import ProcessRecord

DEAD_LETTER = {
    "id": 7,
    "eventId": "e-1",
    "topic": "order.placed",
    "consumer": "product.reserve-stock",
    "error": "ValueError: out of stock\nsecond line",
    "attempts": 5,
    "createdAt": "2030-01-01T10:00:00Z",
    "redrivenAt": None,
}


class FakeInternal(BaseHTTPRequestHandler):
    """Answers like a domain service's internal endpoints and the config service."""

    calls: list[tuple[str, str]] = []

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.calls.append(("GET", self.path))
        if self.path == "/internal/dlq":
            self._send(200, [DEAD_LETTER])
        elif self.path == "/health":
            self._send(200, {"status": "ok"})
        else:
            self._send(404, {"detail": "not found"})

    def do_POST(self) -> None:
        self.calls.append(("POST", self.path))
        if self.path == "/internal/dlq/7/redrive":
            self._send(200, {"id": 7, "redrivenAt": "2030-01-01T11:00:00Z"})
        elif self.path == "/refresh":
            self._send(200, {"version": "abc123"})
        else:
            self._send(404, {"detail": "no such dead letter"})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    FakeInternal.calls = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeInternal)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def record(name: str, pid: int, url: str, port: int = 0) -> ProcessRecord:
    return ProcessRecord(name, 0, pid, port, url, "", psutil.Process(pid).create_time())


def free_url() -> str:
    from gluta_cli.launcher import free_port

    return f"http://127.0.0.1:{free_port()}"


# ---------------------------------------------------------------- status


def test_status_without_processes_json(tmp_path: Path) -> None:
    out = io.StringIO()
    assert status.run_status(tmp_path, out=out) == 1
    assert "nothing is running" in out.getvalue()


def test_status_table_and_json(tmp_path: Path, server: str, sleeper: subprocess.Popen[bytes]) -> None:
    down = free_url()
    paths.write_processes(
        tmp_path,
        [
            record("user", sleeper.pid, server, 8101),
            record("order", sleeper.pid, down, 8103),
            ProcessRecord("product", 0, sleeper.pid, 8102, server, "", 1.0),  # pid reused: not ours
        ],
    )
    out = io.StringIO()
    assert status.run_status(tmp_path, out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[1].split()[:6] == ["user", "0", str(sleeper.pid), "8101", "yes", "ok"]
    assert lines[2].split()[:6] == ["order", "0", str(sleeper.pid), "8103", "yes", "down"]
    assert lines[3].split()[4:7] == ["no", "down", "0.0"]
    assert float(lines[1].split()[6]) > 0
    assert lines[-1].startswith("total RSS:") and "(2/3 processes alive)" in lines[-1]
    out = io.StringIO()
    assert status.run_status(tmp_path, as_json=True, out=out) == 0
    body = json.loads(out.getvalue())
    assert [p["health"] for p in body["processes"]] == ["ok", "down", "down"]
    assert body["totalRssMb"] == pytest.approx(sum(p["rssMb"] for p in body["processes"]), abs=0.2)


def test_status_exits_1_when_every_process_is_gone(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    paths.write_processes(tmp_path, [ProcessRecord("user", 0, proc.pid, 1, "http://127.0.0.1:1", "", 1.0)])
    assert status.run_status(tmp_path, out=io.StringIO()) == 1


# ---------------------------------------------------------------- dlq, config


def test_dlq_list_table(tmp_path: Path, server: str, sleeper: subprocess.Popen[bytes]) -> None:
    paths.write_processes(tmp_path, [record(name, sleeper.pid, server) for name in ("user", "product", "order")])
    out = io.StringIO()
    assert dlq.run_dlq_list(tmp_path, out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["SERVICE", "ID", "TOPIC", "CONSUMER", "ATTEMPTS", "CREATED", "REDRIVEN", "ERROR"]
    assert [line.split()[0] for line in lines[1:4]] == ["user", "product", "order"]
    assert lines[1].split()[1:7] == ["7", "order.placed", "product.reserve-stock", "5", "2030-01-01T10:00:00Z", "-"]
    assert "ValueError: out of stock second line" in lines[1]
    assert lines[-1].startswith("3 dead letter(s)")


def test_dlq_list_one_service_json_and_unreachable(
    tmp_path: Path, server: str, sleeper: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    paths.write_processes(tmp_path, [record("product", sleeper.pid, server), record("order", sleeper.pid, free_url())])
    out = io.StringIO()
    assert dlq.run_dlq_list(tmp_path, service="product", as_json=True, out=out) == 0
    assert json.loads(out.getvalue()) == [{"service": "product", **DEAD_LETTER}]
    assert dlq.run_dlq_list(tmp_path, service="order", out=io.StringIO()) == 1
    assert "order: cannot list dead letters" in capsys.readouterr().err


def test_dlq_redrive(tmp_path: Path, server: str, sleeper: subprocess.Popen[bytes]) -> None:
    paths.write_processes(tmp_path, [record("order", sleeper.pid, server)])
    out = io.StringIO()
    assert dlq.run_dlq_redrive(tmp_path, "7", "order", out=out) == 0
    assert ("POST", "/internal/dlq/7/redrive") in FakeInternal.calls
    assert "redriven order dead letter 7" in out.getvalue()
    assert dlq.run_dlq_redrive(tmp_path, "8", "order", out=io.StringIO()) == 1


def test_config_refresh(tmp_path: Path, server: str, sleeper: subprocess.Popen[bytes]) -> None:
    paths.write_processes(tmp_path, [record("config", sleeper.pid, server)])
    out = io.StringIO()
    assert ops.run_config_refresh(tmp_path, out=out) == 0
    assert out.getvalue().strip() == "config version: abc123"


def test_admin_create_delegates_to_the_user_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    assert ops.admin_create_command("boss")[1:] == ["-m", "gluta_user", "admin-create", "boss"]
    script = "import os, sys; print(sys.argv[1:], os.environ['GLUTA_DATA_DIR'], sys.stdin.read().strip()); sys.exit(4)"
    monkeypatch.setattr(ops, "admin_create_command", lambda login: [sys.executable, "-c", script, login])
    password = tmp_path / "password.txt"
    password.write_text("s3cret\n")
    with open(password) as stdin:
        assert ops.run_admin_create(tmp_path, "boss", stdin=stdin) == 4
    assert capfd.readouterr().out.strip() == f"['boss'] {tmp_path} s3cret"


# ---------------------------------------------------------------- mail


def write_mail(folder: Path, name: str, to: str, subject: str, date: str, body: str, html: bool = False) -> Path:
    message = EmailMessage()
    message["From"] = "noreply@gluta.test"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = date
    if html:
        message.set_content(body, subtype="html")
    else:
        message.set_content(body)
    path = folder / name
    path.write_bytes(message.as_bytes())
    return path


def test_mail_list_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    assert mail.run_mail_list(tmp_path, out=out) == 0
    assert "no mail" in out.getvalue()
    folder = tmp_path / "mail"
    folder.mkdir()
    write_mail(folder, "a.eml", "old@x.test", "Welcome", "Mon, 01 Jan 2030 10:00:00 +0000", "hello")
    write_mail(
        folder,
        "b.eml",
        "new@x.test",
        "Your new password",
        "Mon, 01 Jan 2030 12:00:00 +0000",
        "<p>Password: <b>abc&amp;1</b></p><p>bye</p>",
        html=True,
    )
    out = io.StringIO()
    assert mail.run_mail_list(tmp_path, out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["TIME", "TO", "SUBJECT", "FILE"]
    assert "new@x.test" in lines[1] and "Your new password" in lines[1] and "b.eml" in lines[1]
    assert "old@x.test" in lines[2]
    out = io.StringIO()
    assert mail.run_mail_list(tmp_path, lines=1, out=out) == 0
    assert "1 older not shown" in out.getvalue()

    out = io.StringIO()
    assert mail.run_mail_show(tmp_path, "latest", out=out) == 0
    shown = out.getvalue()
    assert "Subject: Your new password" in shown and "Password: abc&1" in shown and "<p>" not in shown
    out = io.StringIO()
    assert mail.run_mail_show(tmp_path, "a", out=out) == 0
    assert "hello" in out.getvalue() and "To:      old@x.test" in out.getvalue()
    assert mail.run_mail_show(tmp_path, "missing.eml", out=io.StringIO()) == 1


# ---------------------------------------------------------------- argparse wiring


def test_parser_wiring(tmp_path: Path) -> None:
    parser = main.build_parser()
    args = parser.parse_args(["--data-dir", "top", "logs", "order", "--trace", "abc", "-n", "0", "--level", "ERROR"])
    assert (args.data_dir, args.service, args.trace, args.lines, args.level) == ("top", "order", "abc", 0, "error")
    assert parser.parse_args(["status", "--data-dir", "sub"]).data_dir == "sub"
    assert parser.parse_args(["status"]).data_dir is None
    args = parser.parse_args(["up", "--scale", "product=2", "--only", "user,product", "--no-demo"])
    assert (args.scale, args.only, args.no_demo) == (["product=2"], ["user,product"], True)
    assert parser.parse_args(["dlq", "redrive", "5", "--service", "order"]).id == "5"
    assert parser.parse_args(["mail"]).func.__name__ == "run_list"
    assert parser.parse_args(["mail", "show", "latest"]).which == "latest"
    assert parser.parse_args(["config", "refresh"]).func.__name__ == "run_refresh"
    assert parser.parse_args(["admin", "create", "boss"]).login_id == "boss"
    with pytest.raises(SystemExit):
        parser.parse_args(["dlq", "redrive", "5"])  # --service is required


def test_up_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["up", "--scale", "broker=2"]) == 2
    assert "cannot be scaled" in capsys.readouterr().err
    assert main.main(["up", "--only", "nope"]) == 2
