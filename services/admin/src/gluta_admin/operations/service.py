"""Gather the state of every running instance from discovery, the instances themselves and the config service.

The admin asks these internal endpoints directly (not through the gateway): discovery's `/instances`, each
instance's `/health`, `/ready` and `/internal/status`, `/internal/dlq` on the services that keep dead letters,
and the config service's `/version`. Anything that does not answer is reported as such, never raised.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx

from gluta_admin.operations.exceptions import NoInstance, RedriveRefused

DLQ_SERVICES = ("user", "product", "order")
SERVICE_ORDER = ("gateway", "user", "product", "order", "storefront", "admin", "discovery", "config")


@dataclass
class InstanceReport:
    """One instance as discovery lists it, with what it says about itself."""

    service: str
    instance_id: str
    url: str
    seconds_since_heartbeat: float | None = None
    healthy: bool = False
    ready: bool | None = None
    ready_checks: dict[str, str] = field(default_factory=dict)
    status: dict[str, Any] | None = None
    problem: str | None = None

    @property
    def outbox(self) -> dict[str, Any] | None:
        """Return `{pending, oldestSeconds, published}` or None for a service without an outbox."""
        outbox = (self.status or {}).get("outbox")
        return outbox if isinstance(outbox, dict) else None

    @property
    def breakers(self) -> dict[str, str]:
        """Return the circuit-breaker state of each service this instance calls."""
        breakers = (self.status or {}).get("breakers")
        return {str(k): str(v) for k, v in breakers.items()} if isinstance(breakers, dict) else {}

    @property
    def config_version(self) -> str | None:
        """Return the configuration version this instance runs with."""
        version = (self.status or {}).get("configVersion")
        return str(version) if version else None

    @property
    def dead_letter_count(self) -> int:
        """Return how many dead letters wait in this instance's service."""
        try:
            return int((self.status or {}).get("deadLetters") or 0)
        except (TypeError, ValueError):
            return 0


@dataclass
class DeadLetterReport:
    """A message a consumer kept failing on, waiting for a redrive."""

    service: str
    id: int
    event_id: str
    topic: str
    consumer: str
    error: str
    attempts: int
    created_at: str
    payload: str


@dataclass
class OperationsReport:
    """Everything the operations page shows."""

    services: dict[str, list[InstanceReport]]
    dead_letters: list[DeadLetterReport]
    config_version: str | None
    problems: list[str]

    @property
    def instances(self) -> list[InstanceReport]:
        """Return every instance, services in display order."""
        return [i for items in self.services.values() for i in items]

    def is_stale(self, instance: InstanceReport) -> bool:
        """Tell whether an instance runs with another configuration version than the one in force."""
        return bool(self.config_version and instance.config_version
                    and instance.config_version != self.config_version)


def _short_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:200]


class Operations:
    """Ask the system's internal endpoints about itself."""

    def __init__(self, *, discovery_url: str | None, config_url: str | None, internal_token: str | None,
                 client: httpx.AsyncClient, timeout: float = 2.0) -> None:
        self.discovery_url = discovery_url.rstrip("/") if discovery_url else None
        self.config_url = config_url.rstrip("/") if config_url else None
        self.client = client
        self.timeout = timeout
        self.headers = {"X-Internal-Token": internal_token} if internal_token else {}

    async def instances(self) -> dict[str, list[dict[str, Any]]]:
        """Return discovery's live instances by service; raise httpx.HTTPError/ValueError when it fails."""
        if not self.discovery_url:
            raise ValueError("no discovery URL is configured")
        response = await self.client.get(f"{self.discovery_url}/instances", timeout=self.timeout)
        response.raise_for_status()
        body = response.json()
        if not isinstance(body, dict):
            raise ValueError("discovery answered something that is not a map of services")
        return {str(k): [i for i in v if isinstance(i, dict)] for k, v in body.items() if isinstance(v, list)}

    async def report(self) -> OperationsReport:
        """Return the state of the whole system, with a problem line for each part that did not answer."""
        problems: list[str] = []
        try:
            listed = await self.instances()
        except (httpx.HTTPError, ValueError) as exc:
            listed = {}
            problems.append(f"discovery: {_short_error(exc)}")
        names = sorted(listed, key=lambda s: (SERVICE_ORDER.index(s) if s in SERVICE_ORDER else 99, s))
        reports = {
            name: [InstanceReport(service=name, instance_id=str(i.get("instanceId", "?")),
                                  url=str(i.get("url", "")).rstrip("/"),
                                  seconds_since_heartbeat=i.get("secondsSinceHeartbeat"))
                   for i in listed[name] if i.get("url")]
            for name in names
        }
        version_task = asyncio.create_task(self._config_version())
        await asyncio.gather(*(self._probe(r) for items in reports.values() for r in items))
        dead_letters: list[DeadLetterReport] = []
        for service in DLQ_SERVICES:
            urls = [r.url for r in reports.get(service, [])]
            if not urls:
                continue
            try:
                dead_letters.extend(await self._dead_letters(service, urls))
            except (httpx.HTTPError, ValueError) as exc:
                problems.append(f"{service} dead letters: {_short_error(exc)}")
        config_version, config_problem = await version_task
        if config_problem:
            problems.append(config_problem)
        return OperationsReport(services=reports, dead_letters=dead_letters, config_version=config_version,
                                problems=problems)

    async def _get(self, url: str) -> httpx.Response:
        return await self.client.get(url, headers=self.headers, timeout=self.timeout)

    async def _probe(self, report: InstanceReport) -> None:
        health, ready, status = await asyncio.gather(
            self._get(f"{report.url}/health"), self._get(f"{report.url}/ready"),
            self._get(f"{report.url}/internal/status"), return_exceptions=True)
        if isinstance(health, BaseException):
            report.problem = _short_error(health)
        else:
            report.healthy = health.status_code == 200
        if isinstance(ready, httpx.Response):
            report.ready = ready.status_code == 200
            try:
                checks = ready.json().get("checks") or {}
                report.ready_checks = {str(k): str(v) for k, v in checks.items()}
            except (ValueError, AttributeError):
                pass
        if isinstance(status, httpx.Response):
            if status.status_code == 200:
                try:
                    body = status.json()
                    report.status = body if isinstance(body, dict) else None
                except ValueError:
                    report.problem = report.problem or "status: not JSON"
            else:
                report.problem = report.problem or f"status: HTTP {status.status_code}"

    async def _dead_letters(self, service: str, urls: list[str]) -> list[DeadLetterReport]:
        """Read a service's dead letters from the first instance that answers (they share a database)."""
        last: Exception | None = None
        for url in urls:
            try:
                response = await self._get(f"{url}/internal/dlq")
                response.raise_for_status()
                rows = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                last = exc
                continue
            return [
                DeadLetterReport(service=service, id=int(row["id"]), event_id=str(row.get("eventId") or ""),
                                 topic=str(row.get("topic") or ""), consumer=str(row.get("consumer") or ""),
                                 error=str(row.get("error") or ""), attempts=int(row.get("attempts") or 0),
                                 created_at=str(row.get("createdAt") or ""), payload=str(row.get("payload") or ""))
                for row in rows if isinstance(row, dict) and "id" in row
            ]
        assert last is not None
        raise last

    async def _config_version(self) -> tuple[str | None, str | None]:
        if not self.config_url:
            return None, "config: no config URL is configured"
        try:
            response = await self.client.get(f"{self.config_url}/version", timeout=self.timeout)
            response.raise_for_status()
            return str(response.json().get("version")), None
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            return None, f"config: {_short_error(exc)}"

    async def redrive(self, service: str, dead_letter_id: int) -> None:
        """Ask a live instance of `service` to run a dead letter through its handler again."""
        if service not in DLQ_SERVICES:
            raise NoInstance(service)
        try:
            listed = await self.instances()
        except (httpx.HTTPError, ValueError) as exc:
            raise NoInstance(service) from exc
        urls = [str(i["url"]).rstrip("/") for i in listed.get(service, []) if i.get("url")]
        for url in urls:
            try:
                response = await self.client.post(f"{url}/internal/dlq/{dead_letter_id}/redrive",
                                                  headers=self.headers, timeout=max(self.timeout, 10.0))
            except httpx.TransportError:
                continue
            if response.status_code < 300:
                return
            try:
                detail = str(response.json().get("detail") or response.status_code)
            except (ValueError, AttributeError):
                detail = f"HTTP {response.status_code}"
            raise RedriveRefused(detail)
        raise NoInstance(service)
