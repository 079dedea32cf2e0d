"""`gluta dlq`: list and redrive dead-lettered events of the domain services."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

import httpx

from gluta_cli import paths
from gluta_cli.console import format_table
from gluta_cli.launcher import http_client

DLQ_SERVICES = ["user", "product", "order"]
ERROR_WIDTH = 60


def _describe_failure(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return f"HTTP {response.status_code}: {text[:200]}"


def fetch_dead_letters(client: httpx.Client, base_url: str) -> list[dict[str, Any]]:
    """Return the dead letters of one service (raises httpx.HTTPError or ValueError)."""
    response = client.get(f"{base_url}/internal/dlq", headers=paths.internal_headers())
    if response.status_code != 200:
        raise ValueError(_describe_failure(response))
    body = response.json()
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        body = body["items"]
    if not isinstance(body, list):
        raise ValueError("unexpected answer (not a JSON list)")
    return [item for item in body if isinstance(item, dict)]


def _short(value: Any, width: int) -> str:
    text = "" if value is None else str(value).replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def run_dlq_list(data_dir: Path, service: str | None = None, as_json: bool = False, out: TextIO | None = None) -> int:
    """Print the dead letters of user, product and order (or one of them); 1 if one was unreachable."""
    out = out or sys.stdout
    services = [service] if service else DLQ_SERVICES
    rows: list[dict[str, Any]] = []
    failed = False
    with http_client(timeout=5.0) as client:
        for name in services:
            url = paths.service_url(data_dir, name)
            try:
                items = fetch_dead_letters(client, url)
            except (httpx.HTTPError, ValueError) as exc:
                print(f"{name}: cannot list dead letters at {url}/internal/dlq: {exc}", file=sys.stderr)
                failed = True
                continue
            rows.extend({"service": name, **item} for item in items)
    if as_json:
        print(json.dumps(rows, indent=2), file=out)
    elif not rows:
        print("no dead letters", file=out)
    else:
        table = [
            [
                r["service"],
                r.get("id"),
                r.get("topic"),
                r.get("consumer"),
                r.get("attempts"),
                r.get("createdAt"),
                r.get("redrivenAt") or "-",
                _short(r.get("error"), ERROR_WIDTH),
            ]
            for r in rows
        ]
        headers = ["SERVICE", "ID", "TOPIC", "CONSUMER", "ATTEMPTS", "CREATED", "REDRIVEN", "ERROR"]
        print(format_table(headers, table), file=out)
        print(f"{len(rows)} dead letter(s); redrive one with `gluta dlq redrive ID --service NAME`", file=out)
    return 1 if failed else 0


def run_dlq_redrive(data_dir: Path, dlq_id: str, service: str, out: TextIO | None = None) -> int:
    """Ask a service to publish one dead letter again; 0 on success."""
    out = out or sys.stdout
    url = f"{paths.service_url(data_dir, service)}/internal/dlq/{dlq_id}/redrive"
    try:
        with http_client(timeout=10.0) as client:
            response = client.post(url, headers=paths.internal_headers())
    except httpx.HTTPError as exc:
        print(f"{service}: cannot reach {url}: {exc}", file=sys.stderr)
        return 1
    if response.status_code == 404:
        print(f"{service}: no dead letter {dlq_id}", file=sys.stderr)
        return 1
    if not response.is_success:
        print(f"{service}: redrive of {dlq_id} failed: {_describe_failure(response)}", file=sys.stderr)
        return 1
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    print(f"redriven {service} dead letter {dlq_id}: {json.dumps(body)}", file=out)
    return 0
