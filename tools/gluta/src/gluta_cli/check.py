"""`gluta check`: the system's invariants, proven against the running system, one line per invariant.

Each domain service computes its own figures over its own database (`GET /internal/check`, guarded like
`/internal/dlq` by the internal token); this command never reads a service's tables. It combines them:

| invariant | from | holds when |
|---|---|---|
| stock | product | per product: on shelf + reserved by pending orders == received − sold; sold == counted |
| sales | product × order | per product: units sold (product) == units of CONFIRMED orders (order) |
| reservations | product × order | a CONFIRMED order's stock is taken and counted; stock is held only for PENDING |
|  |  | or CONFIRMED orders (a CANCELLED one's is released) |
| wallets | order | every wallet's ledger adds up to its balance; none negative |
| coupons | order | issued == copies held ≤ quantity; each copy used at most once, by a live order; Redis agrees |
| orders | order | no PENDING past the saga timeout; paid exactly once; CANCELLED ones refunded, coupons back |
| outbox | every service | no unsent event older than `--outbox-max-age` |
| inbox | every service | no consumer with messages waiting that acknowledged nothing for `--stuck-after` |
|  |  | (JetStream); on Kafka, no consumer group lag left after `--settle` (Kafka keeps no commit time) |
| dead letters | every service | none waiting |

Figures read from two services are not one snapshot: an order confirmed between the two reads looks
inconsistent for a moment. So a violation is only reported if it is still there after `--settle`
seconds of asking again (default 10; 0 answers at once, e.g. on a system known to be quiet).

Exit status: 0 every invariant holds; 1 one is violated; 3 a service could not be asked (its
invariants are UNKNOWN) and none is violated; 2 bad usage.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gluta_cli.console import paint, use_colour
from gluta_cli.instances import instance_urls

SERVICES = ["user", "product", "order"]
OK, FAIL, UNKNOWN = "OK", "FAIL", "UNKNOWN"
EXIT_OK, EXIT_VIOLATED, EXIT_UNREACHABLE = 0, 1, 3
SHOWN = 10  # problems printed per invariant


class CheckSettings(BaseSettings):
    """Where the services are and how to call their internal endpoints (env `GLUTA_<FIELD>`)."""

    model_config = SettingsConfigDict(env_prefix="GLUTA_", extra="ignore")

    discovery_url: str | None = "http://127.0.0.1:8761"
    static_instances: dict[str, list[str]] = Field(default_factory=dict)
    internal_token: str | None = None


@dataclass
class Line:
    """One invariant's verdict."""

    name: str
    status: str
    summary: str
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0


@dataclass
class Answers:
    """What each service answered (`found`) or why it could not be asked (`errors`)."""

    found: dict[str, dict[str, Any]] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class Limits:
    """The thresholds of the checks that depend on time."""

    outbox_max_age: float = 60.0
    stuck_after: float = 60.0


# --------------------------------------------------------------------------- asking the services


def ask(client: httpx.Client, name: str, urls: list[str], headers: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """Return (url, answer) of the first instance that answers `/internal/check`; raise ValueError if none does."""
    failures = []
    for url in urls:
        try:
            response = client.get(f"{url}/internal/check", headers=headers)
        except httpx.HTTPError as exc:
            failures.append(f"{url}: {exc.__class__.__name__}")
            continue
        if response.status_code != 200:
            failures.append(f"{url}: HTTP {response.status_code} {response.text[:120].strip()}")
            continue
        try:
            body = response.json()
        except ValueError:
            failures.append(f"{url}: not JSON")
            continue
        if isinstance(body, dict):
            return url, body
        failures.append(f"{url}: not a JSON object")
    raise ValueError("; ".join(failures) or "no instance found")


def gather(settings: CheckSettings, data_dir: Path, services: list[str], *, timeout: float = 60.0,
           overrides: dict[str, str] | None = None) -> Answers:
    """Ask every service for its figures."""
    headers = {"X-Internal-Token": settings.internal_token} if settings.internal_token else {}
    answers = Answers()
    with httpx.Client(timeout=timeout, trust_env=False) as client:
        for name in services:
            if overrides and name in overrides:
                urls = [overrides[name].rstrip("/")]
            else:
                urls = instance_urls(name, data_dir, static=settings.static_instances,
                                     discovery_url=settings.discovery_url, client=client)
            try:
                answers.urls[name], answers.found[name] = ask(client, name, urls, headers)
            except ValueError as exc:
                answers.errors[name] = str(exc)
    return answers


# --------------------------------------------------------------------------- judging


def _local(answers: Answers, service: str, name: str) -> Line:
    """A service's own invariant, as it reported it."""
    if service in answers.errors:
        return Line(name, UNKNOWN, f"{service} could not be asked: {answers.errors[service]}")
    invariants = answers.found[service].get("invariants") or {}
    part = invariants.get(name)
    if not isinstance(part, dict) or "ok" not in part:
        why = "; ".join(map(str, invariants.get("errors") or [])) or "not reported"
        return Line(name, UNKNOWN, f"{service} could not compute it: {why}")
    return Line(name, OK if part["ok"] else FAIL, str(part.get("summary", "")), list(part.get("problems") or []),
                int(part.get("problemCount") or 0))


def _both(answers: Answers, name: str) -> tuple[dict[str, Any], dict[str, Any]] | Line:
    for service in ("product", "order"):
        if service in answers.errors:
            return Line(name, UNKNOWN, f"{service} could not be asked: {answers.errors[service]}")
    product = answers.found["product"].get("invariants") or {}
    order = answers.found["order"].get("invariants") or {}
    return product, order


def _sales(answers: Answers) -> Line:
    both = _both(answers, "sales")
    if isinstance(both, Line):
        return both
    product, order = both
    sold, confirmed = product.get("unitsSold"), order.get("confirmedUnits")
    if not isinstance(sold, dict) or not isinstance(confirmed, dict):
        return Line("sales", UNKNOWN, "a service did not report its units")
    problems = [f"product {pid}: {int(sold.get(pid, 0)):,} sold (product) but {int(confirmed.get(pid, 0)):,} "
                f"in CONFIRMED orders (order)"
                for pid in sorted(set(sold) | set(confirmed), key=int) if int(sold.get(pid, 0)) != int(
                    confirmed.get(pid, 0))]
    total = sum(int(v) for v in sold.values())
    summary = (f"{total:,} units sold (product) = {sum(int(v) for v in confirmed.values()):,} units of "
               f"CONFIRMED orders (order), over {len(set(sold) | set(confirmed))} products")
    return Line("sales", FAIL if problems else OK, summary, problems[:SHOWN], len(problems))


def _reservations(answers: Answers) -> Line:
    both = _both(answers, "reservations")
    if isinstance(both, Line):
        return both
    product, order = both
    held, ids = product.get("reservations"), order.get("orderIds")
    if not isinstance(held, dict) or not isinstance(ids, dict):
        return Line("reservations", UNKNOWN, "a service did not report its orders")
    counted, reserved = set(held.get("counted", [])), set(held.get("pending", []))
    confirmed, pending = set(ids.get("confirmed", [])), set(ids.get("pending", []))
    problems = []
    for order_id in sorted(confirmed - counted):
        why = "its sale is not counted" if order_id in reserved else "no stock is taken for it"
        problems.append(f"order {order_id}: CONFIRMED but {why}")
    for order_id in sorted(counted - confirmed):
        problems.append(f"order {order_id}: its stock is counted as sold but the order is not CONFIRMED")
    for order_id in sorted(reserved - confirmed - pending):
        problems.append(f"order {order_id}: stock held for an order that is neither PENDING nor CONFIRMED "
                        f"(not released)")
    summary = (f"{len(confirmed):,} CONFIRMED orders hold counted stock, {len(reserved):,} reservations for "
               f"{len(pending):,} PENDING orders, none held for a cancelled order")
    return Line("reservations", FAIL if problems else OK, summary, problems[:SHOWN], len(problems))


def _per_service(answers: Answers, services: list[str]) -> tuple[list[str], list[str]]:
    not_asked = [s for s in services if s in answers.errors]
    unknown = [f"{', '.join(not_asked)} could not be asked"] if not_asked else []
    return [s for s in services if s in answers.found], unknown


def _outbox(answers: Answers, services: list[str], limits: Limits) -> Line:
    asked, unknown = _per_service(answers, services)
    parts, problems = [], []
    oldest = 0.0
    for service in asked:
        lag = answers.found[service].get("outbox")
        if not isinstance(lag, dict) or "pending" not in lag:
            unknown.append(f"{service}: {lag.get('error') if isinstance(lag, dict) else 'not reported'}")
            continue
        age = float(lag.get("oldestSeconds") or 0.0)
        oldest = max(oldest, age)
        parts.append(f"{service} {int(lag['pending']):,}")
        if age > limits.outbox_max_age:
            problems.append(f"{service}: {int(lag['pending']):,} events unsent, the oldest for {age:.0f} s "
                            f"(limit {limits.outbox_max_age:g} s)")
    summary = f"unsent events: {', '.join(parts) or 'none asked'} (oldest {oldest:.1f} s)"
    return _verdict("outbox", summary, problems, unknown)


def _inbox(answers: Answers, services: list[str], limits: Limits) -> Line:
    asked, unknown = _per_service(answers, services)
    consumers = waiting = lag_only = 0
    not_measured = []
    problems = []
    for service in asked:
        backlog = answers.found[service].get("consumers")
        if backlog is None:
            not_measured.append(service)
            continue
        if not isinstance(backlog, list):
            unknown.append(f"{service}: {backlog.get('error') if isinstance(backlog, dict) else backlog}")
            continue
        for consumer in backlog:
            consumers += 1
            queued = int(consumer.get("waiting", 0)) + int(consumer.get("unacknowledged", 0))
            waiting += queued
            if consumer.get("lagOnly"):
                # Kafka: a lag and no time of the last commit; a lag still there after --settle is reported
                lag_only += 1
                if queued:
                    problems.append(f"{service} {consumer.get('consumer')} ({consumer.get('topic')}): {queued:,} "
                                    f"messages not yet handled (Kafka lag)")
                continue
            last_ack, age = consumer.get("lastAckSecondsAgo"), consumer.get("ageSeconds")
            idle = last_ack is None or float(last_ack) > limits.stuck_after
            if queued and idle and (age is None or float(age) > limits.stuck_after):
                since = "never" if last_ack is None else f"{float(last_ack):.0f} s ago"
                problems.append(f"{service} {consumer.get('consumer')} ({consumer.get('topic')}): {queued:,} "
                                f"messages waiting, last acknowledged {since}, "
                                f"{int(consumer.get('redelivered', 0))} redelivered")
    summary = f"{consumers} consumers: {waiting:,} messages waiting, none stuck for {limits.stuck_after:g} s"
    if lag_only:
        summary = f"{consumers} consumers: {waiting:,} messages waiting (Kafka lag, none left after settling)"
    if not consumers and not_measured:
        summary = f"not measured on this broker: {', '.join(not_measured)}"
    elif not_measured:
        summary += f" (not measured on this broker: {', '.join(not_measured)})"
    return _verdict("inbox", summary, problems, unknown)


def _dead_letters(answers: Answers, services: list[str]) -> Line:
    asked, unknown = _per_service(answers, services)
    parts, problems = [], []
    for service in asked:
        count = answers.found[service].get("deadLetters")
        if not isinstance(count, int):
            unknown.append(f"{service}: {count.get('error') if isinstance(count, dict) else 'not reported'}")
            continue
        parts.append(f"{service} {count}")
        if count:
            problems.append(f"{service}: {count} dead letter(s) waiting (`gluta dlq list --service {service}`)")
    return _verdict("dead letters", f"waiting: {', '.join(parts) or 'none asked'}", problems, unknown)


def _verdict(name: str, summary: str, problems: list[str], unknown: list[str]) -> Line:
    if problems:
        return Line(name, FAIL, summary, (problems + unknown)[:SHOWN], len(problems) + len(unknown))
    if unknown:
        return Line(name, UNKNOWN, "; ".join(unknown) + f" ({summary})")
    return Line(name, OK, summary)


def judge(answers: Answers, services: list[str], limits: Limits) -> list[Line]:
    """Return one verdict per invariant, in a fixed order."""
    return [
        _local(answers, "product", "stock"),
        _sales(answers),
        _reservations(answers),
        _local(answers, "order", "wallets"),
        _local(answers, "order", "coupons"),
        _local(answers, "order", "orders"),
        _outbox(answers, services, limits),
        _inbox(answers, services, limits),
        _dead_letters(answers, services),
    ]


def exit_code(lines: list[Line]) -> int:
    """1 when an invariant is violated, else 3 when one could not be checked, else 0."""
    if any(line.status == FAIL for line in lines):
        return EXIT_VIOLATED
    if any(line.status == UNKNOWN for line in lines):
        return EXIT_UNREACHABLE
    return EXIT_OK


# --------------------------------------------------------------------------- the command


@dataclass
class Report:
    """The verdicts of one `gluta check` and how they were reached."""

    lines: list[Line]
    answers: Answers
    attempts: int
    seconds: float
    checked_at: str

    @property
    def code(self) -> int:
        return exit_code(self.lines)

    def to_json(self) -> dict[str, Any]:
        """Return the report as `--json` prints it."""
        return {"ok": self.code == EXIT_OK, "exitCode": self.code, "checkedAt": self.checked_at,
                "attempts": self.attempts, "seconds": round(self.seconds, 2),
                "services": {**{k: {"url": v} for k, v in self.answers.urls.items()},
                             **{k: {"error": v} for k, v in self.answers.errors.items()}},
                "invariants": [{**asdict(line), "problemCount": line.problem_count} for line in self.lines]}


def run_check(settings: CheckSettings, data_dir: Path, *, services: list[str] | None = None, settle: float = 10.0,
              limits: Limits | None = None, overrides: dict[str, str] | None = None,
              sleep: Any = time.sleep) -> Report:
    """Ask, judge, and while something is wrong ask again for up to `settle` seconds."""
    services = services or list(SERVICES)
    limits = limits or Limits()
    started = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        answers = gather(settings, data_dir, services, overrides=overrides)
        lines = judge(answers, services, limits)
        if exit_code(lines) == EXIT_OK or time.monotonic() - started >= settle:
            break
        sleep(1.0)
    checked_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Report(lines, answers, attempts, time.monotonic() - started, checked_at)


def format_report(report: Report, colours: bool = False) -> str:
    """Return the operator's text: one line per invariant with its figures, then the problems found."""
    tint = {OK: "green", FAIL: "bold_red", UNKNOWN: "yellow"}
    where = ", ".join([f"{k} {v}" for k, v in report.answers.urls.items()]
                      + [f"{k} UNREACHABLE" for k in report.answers.errors])
    out = [f"gluta check {report.checked_at}: {where}"]
    for line in report.lines:
        status = paint(f"{line.status:<7}", tint[line.status], colours)
        out.append(f"{status} {line.name:<13} {line.summary}")
        for problem in line.problems[:SHOWN]:
            out.append(f"{'':<8}{'':<13}   - {problem}")
        if line.problem_count > min(len(line.problems), SHOWN):
            out.append(f"{'':<8}{'':<13}   … and {line.problem_count - min(len(line.problems), SHOWN)} more")
    failed = [line.name for line in report.lines if line.status == FAIL]
    unknown = [line.name for line in report.lines if line.status == UNKNOWN]
    if failed:
        verdict = f"VIOLATED: {', '.join(failed)}"
    elif unknown:
        verdict = f"could not check: {', '.join(unknown)}"
    else:
        verdict = f"all {len(report.lines)} invariants hold"
    settled = f" after {report.attempts} tries in {report.seconds:.1f} s" if report.attempts > 1 else ""
    out.append(f"{verdict}{settled}")
    return "\n".join(out)


def run_check_command(data_dir: Path, *, as_json: bool = False, settle: float = 10.0, outbox_max_age: float = 60.0,
                      stuck_after: float = 60.0, urls: list[str] | None = None, out: TextIO | None = None) -> int:
    """Run `gluta check` and return its exit status."""
    out = out or sys.stdout
    overrides: dict[str, str] = {}
    for item in urls or []:
        name, sep, url = item.partition("=")
        if not sep or name not in SERVICES or not url.startswith(("http://", "https://")):
            print(f"gluta check: --url expects SERVICE=http://host:port with SERVICE one of {SERVICES}, got {item!r}",
                  file=sys.stderr)
            return 2
        overrides[name] = url
    report = run_check(CheckSettings(), data_dir, settle=max(0.0, settle),
                       limits=Limits(outbox_max_age=outbox_max_age, stuck_after=stuck_after), overrides=overrides)
    if as_json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False), file=out)
    else:
        print(format_report(report, use_colour(out)), file=out)
    return report.code
