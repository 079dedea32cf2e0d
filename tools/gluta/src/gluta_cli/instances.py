"""Where a service's instances are, for the operator commands that call their internal endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx

from gluta_cli import paths


def instance_urls(name: str, data_dir: Path, *, static: Mapping[str, list[str]] | None = None,
                  discovery_url: str | None = None, client: httpx.Client | None = None,
                  local_only: bool = False) -> list[str]:
    """Return where to reach a service, best first: static setting, processes.json, discovery, default port.

    `local_only` keeps only the launcher's own processes (processes.json).
    """
    if not local_only and static and static.get(name):
        return [u.rstrip("/") for u in static[name]]
    records = sorted((r for r in paths.read_processes(data_dir) or [] if r.name == name and r.url),
                     key=lambda r: r.instance)
    urls = [r.url.rstrip("/") for r in records]
    if local_only:
        return urls
    if discovery_url and client is not None:
        try:
            response = client.get(f"{discovery_url.rstrip('/')}/instances/{name}", timeout=2.0)
            if response.status_code == 200:
                urls += [str(i["url"]).rstrip("/") for i in response.json()
                         if isinstance(i, dict) and i.get("url") and i.get("status", "UP") == "UP"]
        except (httpx.HTTPError, ValueError, TypeError, KeyError):
            pass  # discovery is optional: processes.json and the default port still work
    if name in paths.SERVICE_PORTS:
        urls.append(f"http://{paths.HOST}:{paths.SERVICE_PORTS[name]}")
    return list(dict.fromkeys(urls))
