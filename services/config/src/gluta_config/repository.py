"""The configuration repository: YAML files in a git-tracked folder, versioned by commit."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


class BadName(ValueError):
    """A service or profile name that is not a plain word."""


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge `override` into a copy of `base`, recursing into nested mappings."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class ConfigRepository:
    """Read merged settings for a service and profile, and the version they come from."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()

    def _load(self, name: str) -> dict[str, Any]:
        path = self.folder / f"{name}.yml"
        if not path.is_file():
            return {}
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path.name} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{path.name} must hold a mapping")
        return data

    def values(self, service: str, profile: str) -> tuple[dict[str, Any], list[str]]:
        """Return the merged values of application.yml < <service>.yml < <service>-<profile>.yml."""
        if not _NAME.match(service) or not _NAME.match(profile):
            raise BadName("service and profile are lowercase words")
        merged: dict[str, Any] = {}
        sources = []
        for name in ("application", f"application-{profile}", service, f"{service}-{profile}"):
            data = self._load(name)
            if data:
                merged = deep_merge(merged, data)
                sources.append(f"{name}.yml")
        return merged, sources

    def version(self) -> str:
        """Return the commit that last changed the folder, marked dirty when files differ from it."""
        digest = self._content_hash()
        try:
            commit = self._git("log", "-1", "--format=%H", "--", ".")
            dirty = self._git("status", "--porcelain", "--", ".")
        except (OSError, subprocess.CalledProcessError):
            return f"content-{digest}"
        if not commit:
            return f"uncommitted-{digest}"
        return f"{commit}-dirty-{digest}" if dirty else commit

    def _git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.folder), *args], check=True, capture_output=True,
                              text=True, timeout=5).stdout.strip()

    def _content_hash(self) -> str:
        sha = hashlib.sha256()
        for path in sorted(self.folder.glob("*.yml")):
            sha.update(path.name.encode())
            sha.update(path.read_bytes())
        return sha.hexdigest()[:12]
