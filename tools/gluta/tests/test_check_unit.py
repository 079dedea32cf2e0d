"""`gluta check`'s judgement of the services' figures (no I/O): what counts as violated, unknown, settled."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import pytest

from gluta_cli import check
from gluta_cli.check import FAIL, OK, UNKNOWN, Answers, CheckSettings, Limits, judge, run_check, run_check_command


def ok(summary: str = "fine") -> dict[str, Any]:
    return {"ok": True, "summary": summary, "problems": [], "problemCount": 0}


def healthy() -> Answers:
    """What a quiet, consistent system answers: order 1 CONFIRMED (2 units of product 5), order 2 PENDING."""
    kit = {"outbox": {"pending": 0, "oldestSeconds": 0.0}, "deadLetters": 0,
           "consumers": [{"consumer": "c", "topic": "t", "waiting": 0, "unacknowledged": 0, "redelivered": 0,
                          "lastAckSecondsAgo": 500.0, "ageSeconds": 900.0}]}
    return Answers(found={
        "user": {**kit, "invariants": {}},
        "product": {**kit, "invariants": {"stock": ok(), "unitsSold": {"5": 2},
                                          "reservations": {"counted": [1], "pending": [2]}}},
        "order": {**kit, "invariants": {"wallets": ok(), "coupons": ok(), "orders": ok(), "confirmedUnits": {"5": 2},
                                        "orderIds": {"confirmed": [1], "pending": [2]}}},
    }, urls={"user": "u", "product": "p", "order": "o"})


def verdict(answers: Answers, limits: Limits | None = None) -> dict[str, check.Line]:
    return {line.name: line for line in judge(answers, check.SERVICES, limits or Limits())}


def test_a_consistent_system_holds_every_invariant() -> None:
    lines = verdict(healthy())
    assert {name: line.status for name, line in lines.items()} == dict.fromkeys(lines, OK)
    assert len(lines) == 9 and check.exit_code(list(lines.values())) == 0


def test_units_sold_must_match_confirmed_orders_per_product() -> None:
    answers = healthy()
    answers.found["order"]["invariants"]["confirmedUnits"] = {"5": 3, "6": 1}
    sales = verdict(answers)["sales"]
    assert sales.status == FAIL and sales.problem_count == 2
    assert sales.problems == ["product 5: 2 sold (product) but 3 in CONFIRMED orders (order)",
                              "product 6: 0 sold (product) but 1 in CONFIRMED orders (order)"]


@pytest.mark.parametrize(("product", "order", "problem"), [
    ({"counted": [], "pending": [2]}, {"confirmed": [1], "pending": [2]}, "order 1: CONFIRMED but no stock is taken"),
    ({"counted": [], "pending": [1, 2]}, {"confirmed": [1], "pending": [2]}, "order 1: CONFIRMED but its sale is not"),
    ({"counted": [1], "pending": [2, 3]}, {"confirmed": [1], "pending": [2]}, "order 3: stock held for an order that"),
    ({"counted": [1, 4], "pending": [2]}, {"confirmed": [1], "pending": [2]}, "order 4: its stock is counted as sold"),
])
def test_stock_is_held_only_for_live_orders(product: dict[str, Any], order: dict[str, Any], problem: str) -> None:
    answers = healthy()
    answers.found["product"]["invariants"]["reservations"] = product
    answers.found["order"]["invariants"]["orderIds"] = order
    line = verdict(answers)["reservations"]
    assert line.status == FAIL and line.problems[0].startswith(problem), line


def test_an_old_unsent_event_is_a_violation_a_young_one_is_not() -> None:
    answers = healthy()
    answers.found["order"]["outbox"] = {"pending": 40, "oldestSeconds": 3.0}
    assert verdict(answers)["outbox"].status == OK
    answers.found["order"]["outbox"] = {"pending": 40, "oldestSeconds": 61.0}
    line = verdict(answers)["outbox"]
    assert line.status == FAIL and line.problems == ["order: 40 events unsent, the oldest for 61 s (limit 60 s)"]


def test_a_consumer_is_stuck_only_when_messages_wait_and_it_acknowledged_nothing_for_a_while() -> None:
    answers = healthy()
    consumer = answers.found["product"]["consumers"][0]
    consumer.update(waiting=5, lastAckSecondsAgo=1.0)  # busy, not stuck
    assert verdict(answers)["inbox"].status == OK
    consumer.update(lastAckSecondsAgo=None)  # waiting and never acknowledged anything
    line = verdict(answers)["inbox"]
    assert line.status == FAIL and "5 messages waiting, last acknowledged never" in line.problems[0]
    answers = healthy()
    answers.found["order"]["consumers"] = None  # Kafka / Redis: not measured, not a violation
    line = verdict(answers)["inbox"]
    assert line.status == OK and "not measured on this broker: order" in line.summary


def test_on_kafka_a_lag_left_after_settling_is_reported() -> None:
    """Kafka keeps no time of a group's last commit: what is still waiting when `settle` runs out is reported."""
    answers = healthy()
    answers.found["order"]["consumers"] = [{"consumer": "order-confirm", "topic": "t", "waiting": 0,
                                            "unacknowledged": 0, "lagOnly": True}]
    line = verdict(answers)["inbox"]
    assert line.status == OK and "Kafka lag" in line.summary
    answers.found["order"]["consumers"][0]["waiting"] = 4
    line = verdict(answers)["inbox"]
    assert line.status == FAIL and line.problems == ["order order-confirm (t): 4 messages not yet handled (Kafka lag)"]


def test_dead_letters_waiting_are_a_violation() -> None:
    answers = healthy()
    answers.found["user"]["deadLetters"] = 2
    line = verdict(answers)["dead letters"]
    assert line.status == FAIL and line.problems == ["user: 2 dead letter(s) waiting (`gluta dlq list --service user`)"]


def test_an_unreachable_service_makes_its_invariants_unknown_and_exit_3() -> None:
    answers = healthy()
    del answers.found["order"]
    answers.errors["order"] = "http://127.0.0.1:8103: ConnectError"
    lines = verdict(answers)
    assert {n for n, line in lines.items() if line.status == UNKNOWN} == {
        "sales", "reservations", "wallets", "coupons", "orders", "outbox", "inbox", "dead letters"}
    assert lines["stock"].status == OK
    assert check.exit_code(list(lines.values())) == 3
    answers.found["product"]["invariants"]["stock"] = {**ok(), "ok": False, "problems": ["x"], "problemCount": 1}
    assert check.exit_code(judge(answers, check.SERVICES, Limits())) == 1  # a violation outranks the unknown


def test_a_violation_must_last_to_be_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Two services are not read at one instant: a passing difference is asked again until `settle` runs out."""
    passing = healthy()
    passing.found["order"]["invariants"]["confirmedUnits"] = {"5": 3}  # confirmed between the two reads
    answers = [passing, healthy()]
    monkeypatch.setattr(check, "gather", lambda *args, **kwargs: copy.deepcopy(answers.pop(0)))
    report = run_check(CheckSettings(), tmp_path, settle=10, sleep=lambda _: None)
    assert report.code == 0 and report.attempts == 2
    lasting = healthy()
    lasting.found["order"]["invariants"]["confirmedUnits"] = {"5": 3}
    monkeypatch.setattr(check, "gather", lambda *args, **kwargs: copy.deepcopy(lasting))
    report = run_check(CheckSettings(), tmp_path, settle=0, sleep=lambda _: None)
    assert report.code == 1 and report.attempts == 1
    text = check.format_report(report)
    assert "FAIL    sales" in text and "VIOLATED: sales" in text
    assert "   - product 5: 2 sold (product) but 3 in CONFIRMED orders (order)" in text


def test_a_bad_url_option_is_a_usage_error(tmp_path: Path) -> None:
    assert run_check_command(tmp_path, urls=["payment=http://x"], out=io.StringIO()) == 2
    assert run_check_command(tmp_path, urls=["order=127.0.0.1:8103"], out=io.StringIO()) == 2
