"""The per-service CI pipelines (.github/workflows): one per service, run only when that service's folder or
the shared code changes, testing it and building its image. No GitHub runner runs here: this test keeps the
files honest (they parse, name real folders and files, call the shared pipeline with a real service)."""

from __future__ import annotations

import fnmatch
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
SERVICES = sorted(p.parent.name for p in (REPO / "services").glob("*/pyproject.toml"))


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    if True in data:  # YAML 1.1 reads the key `on` as true
        data["on"] = data.pop(True)
    return data


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: the path filters cannot be matched against the tracked files")
    return listed.stdout.splitlines()


def matches(pattern: str, files: list[str]) -> bool:
    if pattern.endswith("/**"):
        return any(f.startswith(pattern[:-2]) for f in files)
    return any(fnmatch.fnmatchcase(f, pattern) for f in files)


def test_every_service_has_its_pipeline_and_nothing_else_does() -> None:
    assert SERVICES == ["admin", "config", "discovery", "gateway", "order", "product", "storefront", "user"]
    names = sorted(p.stem for p in WORKFLOWS.glob("*.yml"))
    assert names == sorted([*SERVICES, "service-pipeline"])


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_pipeline_runs_on_its_folder_and_the_shared_code_only(service: str) -> None:
    workflow = load(WORKFLOWS / f"{service}.yml")
    files = tracked_files() + [str(p.relative_to(REPO)) for p in WORKFLOWS.glob("*.yml")]
    triggers = workflow["on"]
    assert set(triggers) == {"push", "pull_request"} and triggers["push"]["branches"] == ["main"]
    for event in ("push", "pull_request"):
        paths = triggers[event]["paths"]
        assert f"services/{service}/**" in paths and "libs/**" in paths
        others = [f"services/{other}/" for other in SERVICES if other != service]
        for pattern in paths:
            assert matches(pattern, files), f"{service}.yml: {pattern} names nothing in the repository"
            assert not any(pattern.startswith(o) for o in others), f"{service}.yml runs on {pattern}"
    (job,) = workflow["jobs"].values()
    assert job["uses"] == "./.github/workflows/service-pipeline.yml" and job["with"] == {"service": service}


def test_the_shared_pipeline_tests_builds_and_publishes_the_named_service() -> None:
    pipeline = load(WORKFLOWS / "service-pipeline.yml")
    assert pipeline["on"]["workflow_call"]["inputs"]["service"]["required"] is True
    test, image = pipeline["jobs"]["test"], pipeline["jobs"]["image"]
    runs = " ".join(step.get("run", "") for step in test["steps"])
    assert "uv sync --frozen" in runs and "ruff check" in runs and "lint-imports" in runs
    assert "pytest services/${{ inputs.service }} libs" in runs
    assert {"GLUTA_TEST_MYSQL_URL", "GLUTA_TEST_POSTGRES_URL", "GLUTA_TEST_REDIS_URL"} <= set(test["env"])
    assert image["needs"] == "test"
    (build,) = [s for s in image["steps"] if str(s.get("uses", "")).startswith("docker/build-push-action")]
    assert build["with"]["file"] == "deploy/Dockerfile" and (REPO / "deploy" / "Dockerfile").is_file()
    assert build["with"]["build-args"] == "SERVICE=${{ inputs.service }}"
    assert "refs/heads/main" in build["with"]["push"]  # published from main only, never from a pull request
    assert all("glutathione-${{ inputs.service }}:" in tag for tag in build["with"]["tags"].splitlines())
    uv = re.search(r"^UV_VERSION := (\S+)$", (REPO / "Makefile").read_text(), re.M)
    (setup,) = [s for s in test["steps"] if str(s.get("uses", "")).startswith("astral-sh/setup-uv")]
    assert uv and setup["with"]["version"] == uv.group(1)  # the same uv as `make`
