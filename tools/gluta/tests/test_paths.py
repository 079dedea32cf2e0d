"""Data dir resolution and processes.json handling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from gluta_cli import paths
from gluta_cli.paths import ProcessRecord


def test_resolve_data_dir_argument_env_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GLUTA_DATA_DIR", raising=False)
    assert paths.resolve_data_dir() == tmp_path / "var"
    monkeypatch.setenv("GLUTA_DATA_DIR", "from-env")
    assert paths.resolve_data_dir() == tmp_path / "from-env"
    assert paths.resolve_data_dir("rel") == tmp_path / "rel"
    assert paths.resolve_data_dir("rel").is_absolute()


def test_write_read_remove_processes(tmp_path: Path) -> None:
    records = [
        ProcessRecord("broker", 0, 11, 4290, "nats://127.0.0.1:4290", "/x/broker.log"),
        ProcessRecord("product", 1, 12, 40001, "http://127.0.0.1:40001", "/x/product-1.log", 123.5),
    ]
    path = paths.write_processes(tmp_path, records)
    assert path == tmp_path / "run" / "processes.json"
    raw = json.loads(path.read_text())
    assert raw[1] == {
        "name": "product",
        "instance": 1,
        "pid": 12,
        "port": 40001,
        "url": "http://127.0.0.1:40001",
        "log": "/x/product-1.log",
        "createTime": 123.5,
    }
    assert paths.read_processes(tmp_path) == records
    paths.remove_processes(tmp_path)
    assert paths.read_processes(tmp_path) is None
    paths.remove_processes(tmp_path)  # idempotent


def test_read_processes_tolerates_garbage(tmp_path: Path) -> None:
    file = paths.processes_file(tmp_path)
    file.parent.mkdir(parents=True)
    file.write_text("{not json")
    assert paths.read_processes(tmp_path) is None
    file.write_text(json.dumps([{"name": "x"}, {"name": "user", "pid": 5, "extra": 1}]))
    assert paths.read_processes(tmp_path) == [ProcessRecord("user", 0, 5, 0, "", "")]


def test_record_process_detects_exit_and_pid_reuse() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        created = psutil.Process(proc.pid).create_time()
        assert ProcessRecord("x", 0, proc.pid, 0, "", "", created).process() is not None
        assert ProcessRecord("x", 0, proc.pid, 0, "", "", created - 1000).process() is None  # reused pid
    finally:
        proc.kill()
        proc.wait()
    assert ProcessRecord("x", 0, proc.pid, 0, "", "", created).process() is None


def test_service_url_from_processes_json_or_fixed_port(tmp_path: Path) -> None:
    assert paths.service_url(tmp_path, "order") == "http://127.0.0.1:8103"
    paths.write_processes(
        tmp_path,
        [
            ProcessRecord("order", 1, os.getpid(), 9, "http://127.0.0.1:9", ""),
            ProcessRecord("order", 0, os.getpid(), 5555, "http://127.0.0.1:5555/", ""),
        ],
    )
    assert paths.service_url(tmp_path, "order") == "http://127.0.0.1:5555"
    assert paths.service_url(tmp_path, "user") == "http://127.0.0.1:8101"


def test_log_file_name() -> None:
    assert paths.log_file_name("product", 0) == "product.log"
    assert paths.log_file_name("product", 2) == "product-2.log"
