"""Log merging, filtering, formatting and following."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gluta_cli import logs
from gluta_cli.logs import LogFilter, LogReader, format_entry, parse_line, run_logs, select

TRACE = "0af7651916cd43dd8448eb211c80319c"
OTHER_TRACE = "ffffffffffffffffffffffffffffffff"


def line(ts: str, service: str, event: str, level: str = "info", trace: str | None = None, **extra: object) -> str:
    obj: dict[str, object] = {"timestamp": ts, "level": level, "event": event, "service": service}
    if trace:
        obj["traceId"] = trace
        obj["spanId"] = "b7ad6b7169203331"
    obj.update(extra)
    return json.dumps(obj)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "log"
    folder.mkdir()
    (folder / "gateway.log").write_text(
        "\n".join(
            [
                line("2030-01-01T10:00:00.100Z", "gateway", "request.start", trace=TRACE, path="/api/orders"),
                line("2030-01-01T10:00:00.900Z", "gateway", "request.end", trace=TRACE, status=201),
                line("2030-01-01T10:00:05.000Z", "gateway", "request.start", trace=OTHER_TRACE),
            ]
        )
        + "\n"
    )
    (folder / "order.log").write_text(
        "\n".join(
            [
                "plain line before any JSON",
                line("2030-01-01T10:00:00.300Z", "order", "checkout.placed", trace=TRACE, orderId=12),
                line("2030-01-01T10:00:00.500Z", "order", "checkout.failed", level="error", trace=TRACE),
                "Traceback (most recent call last):",
                '  File "x.py", line 1',
                line("2030-01-01T10:00:02.000Z", "order", "debug.thing", level="debug"),
            ]
        )
        + "\n"
    )
    (folder / "product-1.log").write_text(
        line("2030-01-01T10:00:00.400Z", "product", "stock.reserved", trace=TRACE, sku="A 1") + "\n"
    )
    (folder / "broker.log").write_text("[77] 2030/01/01 09:59:59.000000 [INF] Server is ready\n")
    return tmp_path


def events(entries: list[logs.LogEntry]) -> list[str]:
    return [e.event or e.raw for e in entries]


def test_parse_json_line() -> None:
    entry = parse_line(line("2030-01-01T10:00:00.100Z", "order", "x", trace=TRACE), "order", 0, 1)
    assert entry.data is not None
    assert entry.ts == datetime(2030, 1, 1, 10, 0, 0, 100000, tzinfo=UTC)
    assert entry.level == "info" and entry.event == "x" and entry.trace_id == TRACE


def test_parse_nats_and_plain_lines() -> None:
    nats = parse_line("[77] 2030/01/01 09:59:59.000000 [WRN] slow consumer", "broker", 0, 1)
    assert nats.data is None and nats.ts is not None
    assert nats.level == "warning" and nats.event == "slow consumer"
    empty = parse_line("[77] 2030/01/01 09:59:59.000000 [INF] ", "broker", 0, 2)
    assert empty.level == "info" and empty.event == ""
    plain = parse_line("Traceback (most recent call last):", "order", 0, 2)
    assert plain.data is None and plain.ts is None and plain.level is None


def test_merge_orders_by_time_and_keeps_plain_lines_after_their_predecessor(data_dir: Path) -> None:
    merged = [e for e in select(LogReader(data_dir / "log").poll(), LogFilter(), 0) if e.source != "broker"]
    assert events(merged) == [
        "plain line before any JSON",  # no time yet: first
        "request.start",
        "checkout.placed",
        "stock.reserved",
        "checkout.failed",
        "Traceback (most recent call last):",  # stays right after its file's previous line
        '  File "x.py", line 1',
        "request.end",
        "debug.thing",
        "request.start",
    ]


def test_merge_is_time_ordered_for_json_lines(data_dir: Path) -> None:
    merged = [e for e in select(LogReader(data_dir / "log").poll(), LogFilter(), 0) if e.data]
    stamps = [e.ts for e in merged]
    assert stamps == sorted(stamps)  # type: ignore[type-var]


def test_trace_filter_shows_one_request_across_services(data_dir: Path) -> None:
    kept = select(LogReader(data_dir / "log").poll(), LogFilter(trace=TRACE), 0)
    assert events(kept) == ["request.start", "checkout.placed", "stock.reserved", "checkout.failed", "request.end"]
    assert {e.source for e in kept} == {"gateway", "order", "product-1"}
    # a long enough prefix (as shown by the short form) finds the same lines
    assert events(select(LogReader(data_dir / "log").poll(), LogFilter(trace=TRACE[:8]), 0)) == events(kept)
    # a short fragment does not
    assert select(LogReader(data_dir / "log").poll(), LogFilter(trace=TRACE[:4]), 0) == []


def test_service_filter_matches_file_and_instances(data_dir: Path) -> None:
    reader = LogReader(data_dir / "log")
    entries = reader.poll()
    assert events(select(entries, LogFilter(service="product"), 0)) == ["stock.reserved"]
    assert events(select(entries, LogFilter(service="product-1"), 0)) == ["stock.reserved"]
    order = select(entries, LogFilter(service="order"), 0)
    assert len(order) == 6 and all(e.source == "order" for e in order)


def test_level_filter_keeps_plain_lines(data_dir: Path) -> None:
    kept = select(LogReader(data_dir / "log").poll(), LogFilter(service="order", level="error"), 0)
    assert events(kept) == [
        "plain line before any JSON",
        "checkout.failed",
        "Traceback (most recent call last):",
        '  File "x.py", line 1',
    ]
    debug = select(LogReader(data_dir / "log").poll(), LogFilter(service="order", level="debug"), 0)
    assert "debug.thing" in events(debug)
    info = select(LogReader(data_dir / "log").poll(), LogFilter(service="order", level="info"), 0)
    assert "debug.thing" not in events(info)


def test_lines_keeps_the_last_n(data_dir: Path) -> None:
    kept = select(LogReader(data_dir / "log").poll(), LogFilter(), 2)
    assert events(kept) == ["debug.thing", "request.start"]


def test_format_entry_plain_text() -> None:
    raw = line("2030-01-01T10:00:00.123Z", "order", "checkout.placed", trace=TRACE, orderId=12, note="two words")
    entry = parse_line(raw, "order", 0, 1)
    clock = entry.ts.astimezone().strftime("%H:%M:%S.123")  # type: ignore[union-attr]
    assert format_entry(entry) == (
        f'{clock} order      INFO  checkout.placed orderId=12 note="two words" traceId=0af76519…'
    )


def test_format_entry_multiline_extra_and_plain() -> None:
    raw = line("2030-01-01T10:00:00Z", "order", "boom", level="error", exception="Traceback\n  line 2")
    text = format_entry(parse_line(raw, "order", 0, 1))
    assert "ERROR boom" in text
    assert text.endswith("\n    Traceback\n      line 2")
    plain = format_entry(parse_line("Traceback (most recent call last):", "order", 0, 1))
    assert plain == " " * 12 + " order            Traceback (most recent call last):"


def test_format_entry_colour_only_when_asked() -> None:
    entry = parse_line(line("2030-01-01T10:00:00Z", "order", "x", level="warning"), "order", 0, 1)
    assert "\033[" not in format_entry(entry, colour=False)
    assert "\033[33m" in format_entry(entry, colour=True)


def test_run_logs_prints_human_lines_without_colour_on_a_pipe(data_dir: Path) -> None:
    out = io.StringIO()
    assert run_logs(data_dir, trace=TRACE, lines=0, out=out) == 0
    text = out.getvalue().splitlines()
    assert len(text) == 5
    assert "gateway    INFO  request.start path=/api/orders traceId=0af76519…" in text[0]
    assert "\033[" not in out.getvalue()


def test_run_logs_json_output(data_dir: Path) -> None:
    out = io.StringIO()
    assert run_logs(data_dir, service="order", lines=0, as_json=True, out=out) == 0
    objs = [json.loads(x) for x in out.getvalue().splitlines()]
    assert objs[0] == {
        "timestamp": None,
        "service": "order",
        "level": None,
        "event": None,
        "raw": "plain line before any JSON",
    }
    assert objs[1]["event"] == "checkout.placed" and objs[1]["orderId"] == 12


def test_run_logs_without_log_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_logs(tmp_path / "nothing") == 1
    assert "does not exist" in capsys.readouterr().err


def test_reader_returns_only_new_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "order.log"
    path.write_text(line("2030-01-01T10:00:00Z", "order", "one") + "\n" + '{"timestamp": "2030')
    reader = LogReader(tmp_path)
    assert events(reader.poll()) == ["one"]
    assert reader.poll() == []
    with open(path, "a") as fh:
        fh.write('-01-01T10:00:01Z", "event": "two"}\nplain tail\n')
    new = reader.poll()
    assert events(new) == ["two", "plain tail"]
    assert new[1].sort_ts == new[0].ts  # the plain line inherits the previous line's time
    (tmp_path / "user.log").write_text(line("2030-01-01T10:00:02Z", "user", "three") + "\n")
    assert events(reader.poll()) == ["three"]  # files that appear later are picked up
    path.write_text(line("2030-01-01T10:00:03Z", "order", "after truncation") + "\n")
    assert events(reader.poll()) == ["after truncation"]


def test_follow_prints_new_lines_of_every_file_with_the_same_filters(tmp_path: Path) -> None:
    folder = tmp_path / "log"
    folder.mkdir()
    (folder / "order.log").write_text(line("2030-01-01T10:00:00Z", "order", "old", trace=TRACE) + "\n")
    out_path = tmp_path / "follow.out"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gluta_cli", "logs", "--data-dir", str(tmp_path), "--follow", "--trace", TRACE],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        time.sleep(1.0)
        with open(folder / "user.log", "a") as fh:  # a file that appears later
            fh.write(line("2030-01-01T10:00:01Z", "user", "new", trace=TRACE) + "\n")
            fh.write(line("2030-01-01T10:00:02Z", "user", "other-trace", trace=OTHER_TRACE) + "\n")
        with open(folder / "order.log", "a") as fh:
            fh.write(line("2030-01-01T10:00:03Z", "order", "appended", trace=TRACE) + "\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "appended" not in out_path.read_text():
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    text = out_path.read_text()
    assert [ln.split()[3] for ln in text.splitlines()] == ["old", "new", "appended"]
