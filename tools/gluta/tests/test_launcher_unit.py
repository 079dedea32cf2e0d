"""Scale and --only parsing, port checks, process specs and the banner."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import pytest

from gluta_cli import launcher
from gluta_cli.launcher import ProcessSpec, UpOptions, UsageError


def test_parse_scale() -> None:
    assert launcher.parse_scale(None) == {}
    assert launcher.parse_scale(["product=2"]) == {"product": 2}
    assert launcher.parse_scale(["product=2,order=3", "user=1"]) == {"product": 2, "order": 3, "user": 1}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("product", "NAME=N"),
        ("nope=2", "cannot be scaled"),
        ("broker=2", "cannot be scaled"),
        ("discovery=2", "cannot be scaled"),
        ("product=two", "integer"),
        ("product=0", "between"),
    ],
)
def test_parse_scale_rejects(value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        launcher.parse_scale([value])


def test_parse_only() -> None:
    assert launcher.parse_only(None) is None
    assert launcher.parse_only(["order,user", "broker"]) == ["user", "order"]  # start order, broker implied
    with pytest.raises(UsageError, match="unknown"):
        launcher.parse_only(["orders"])


def test_port_in_use_and_message_names_port_service_and_holder() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert launcher.port_in_use(port)
        spec = ProcessSpec("product", 0, port, ["x"], 2)
        problems = launcher.check_ports([spec])
        assert len(problems) == 1
        assert f"port {port} (product) is already in use" in problems[0]
        holder = launcher.port_holder(port)
        if holder is not None:  # the OS may not tell who listens
            assert f"pid {os.getpid()}" in problems[0]
    assert not launcher.port_in_use(port)
    assert launcher.check_ports([ProcessSpec("product", 0, port, ["x"], 2)]) == []


def test_build_specs_order_groups_env_and_scale(tmp_path: Path) -> None:
    specs = launcher.build_specs(UpOptions(data_dir=tmp_path, scale={"product": 2}, demo=True))
    labels = [s.label for s in specs]
    assert labels == [
        "broker",
        "discovery",
        "config",
        "user",
        "product",
        "product-1",
        "order",
        "gateway",
        "storefront",
        "admin",
    ]
    assert [s.group for s in specs] == [0, 1, 1, 2, 2, 2, 2, 3, 3, 3]
    broker = specs[0]
    assert broker.kind == "broker" and broker.port == 4290
    assert broker.argv[1:] == ["-a", "127.0.0.1", "-p", "4290", "-js", "-sd", str(tmp_path / "nats")]
    assert Path(broker.argv[0]).name == "nats-server"
    product, extra = specs[4], specs[5]
    assert product.port == 8102 and product.argv == [sys.executable, "-m", "gluta_product"]
    assert extra.port not in launcher.paths.ALL_PORTS.values() and extra.log_name == "product-1.log"
    assert extra.env["GLUTA_INSTANCE"] == "1" and extra.env["GLUTA_PORT"] == str(extra.port)
    env = product.env
    assert env["GLUTA_PORT"] == "8102" and env["GLUTA_INSTANCE"] == "0"
    assert env["GLUTA_HOST"] == "127.0.0.1"
    assert env["GLUTA_DATA_DIR"] == str(tmp_path)
    assert env["GLUTA_BUS_URL"] == "nats://127.0.0.1:4290"
    assert env["GLUTA_DISCOVERY_URL"] == "http://127.0.0.1:8761"
    assert env["GLUTA_CONFIG_URL"] == "http://127.0.0.1:8888"
    assert env["GLUTA_DEMO"] == "true"
    assert env["GLUTA_CONFIG_REPO"].endswith("config-repo")


def test_build_specs_only_and_no_demo(tmp_path: Path) -> None:
    specs = launcher.build_specs(UpOptions(data_dir=tmp_path, only=["order", "user"], demo=False))
    assert [s.label for s in specs] == ["broker", "user", "order"]
    assert specs[1].env["GLUTA_DEMO"] == "false"


def test_load_spec_file_expands_placeholders(tmp_path: Path) -> None:
    spec_file = tmp_path / "specs.json"
    spec_file.write_text(
        json.dumps(
            [
                {"name": "broker", "kind": "broker", "port": 0, "argv": ["{nats_server}", "-p", "{port}"]},
                {"name": "discovery", "group": 1, "argv": ["{python}", "svc.py", "{data_dir}"], "env": {"X": "{port}"}},
                {"name": "user", "group": 2, "port": 0, "argv": ["{python}"]},
            ]
        )
    )
    specs = launcher.load_spec_file(spec_file, UpOptions(data_dir=tmp_path))
    broker, discovery, user = specs
    assert broker.argv[2] == str(broker.port) and broker.env == {}
    assert discovery.argv == [sys.executable, "svc.py", str(tmp_path)]
    assert discovery.env["X"] == str(discovery.port) == discovery.env["GLUTA_PORT"]
    assert discovery.env["GLUTA_BUS_URL"] == f"nats://127.0.0.1:{broker.port}"
    assert user.env["GLUTA_DISCOVERY_URL"] == f"http://127.0.0.1:{discovery.port}"
    assert len({broker.port, discovery.port, user.port}) == 3
    only = launcher.load_spec_file(spec_file, UpOptions(data_dir=tmp_path, only=["user"]))
    assert [s.name for s in only] == ["broker", "user"]


def test_run_up_exits_2_when_a_port_is_taken(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]

        def builder(options: UpOptions) -> list[ProcessSpec]:
            return [ProcessSpec("order", 0, port, [sys.executable, "-c", "pass"], 1)]

        assert launcher.run_up(UpOptions(data_dir=tmp_path), spec_builder=builder) == 2
    err = capsys.readouterr().err
    assert f"port {port} (order) is already in use" in err
    assert not (tmp_path / "run" / "processes.json").exists()


def test_demo_accounts_lines(tmp_path: Path) -> None:
    assert launcher.demo_accounts_lines(tmp_path) == ["  demo accounts: (none)"]
    (tmp_path / "demo-accounts.json").write_text(
        json.dumps([{"role": "admin", "loginId": "admin", "password": "pw1"}, {"role": "member", "loginId": "m1"}])
    )
    lines = launcher.demo_accounts_lines(tmp_path)
    assert lines[0] == "  demo accounts:"
    assert "admin" in lines[1] and "pw1" in lines[1]
    assert "m1" in lines[2]


def test_tail_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_text("".join(f"line {i}\n" for i in range(30)))
    assert launcher.tail_lines(path, 3) == ["line 27", "line 28", "line 29"]
    assert launcher.tail_lines(tmp_path / "missing.log") == []


def test_exit_description() -> None:
    assert launcher.exit_description(3) == "with exit code 3"
    assert launcher.exit_description(-15) == "killed by SIGTERM"


def test_extra_instances_of_a_service_with_a_database_start_after_its_first(tmp_path: Path) -> None:
    specs = launcher.build_specs(UpOptions(data_dir=tmp_path, scale={"product": 2, "gateway": 2, "admin": 2}))
    phases = [[s.label for s in phase] for phase in launcher.start_phases(specs)]
    assert phases == [
        ["broker"],
        ["discovery", "config"],
        ["user", "product", "order"],
        ["gateway", "gateway-1", "storefront", "admin", "product-1"],  # product-1 once product migrated
        ["admin-1"],
    ]
