"""The janitor against the real product service (a process with its SQLite file and image folder) and the
real config service; the clock is controlled by backdating `deleted_at` in the product's database."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from gluta_cli import janitor, paths
from gluta_cli.paths import ProcessRecord
from gluta_kit.testing import NatsProcess, TestKeys, free_port, serving

pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes"), pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[3]
DAY = timedelta(days=1)


class ServedApp:
    """An ASGI app served by `gluta_kit.testing.serving` in a thread of its own (so sync tests can use it)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serving(self.app) as url:
            self.url = url
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ServedApp:
        self._thread.start()
        assert self._ready.wait(15), "the JWKS server did not start"
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


class ServiceProcess:
    """A real service started as `python -m gluta_<name>` on a free port; stopped (by pid) at the end."""

    def __init__(self, name: str, data_dir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / f"{name}.out"
        base = {k: v for k, v in os.environ.items() if not k.startswith("GLUTA_")}
        self.env = {**base, "GLUTA_PORT": str(self.port), "GLUTA_DATA_DIR": str(data_dir), "GLUTA_DISCOVERY_URL": "",
                    "GLUTA_CONFIG_URL": "", "PYTHONUNBUFFERED": "1", **env}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90) -> ServiceProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", f"gluta_{self.name}"], env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, f"{self.name} exited:\n{self.log.read_text()[-3000:]}"
                try:
                    if client.get(f"{self.url}/ready").status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        raise AssertionError(f"{self.name} not ready in {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@pytest.fixture(scope="module")
def nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsProcess]:
    server = NatsProcess(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def keys() -> TestKeys:
    return TestKeys()


@pytest.fixture(scope="module")
def jwks_url(keys: TestKeys) -> Iterator[str]:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, Any]:
        return keys.jwks

    with ServedApp(app) as served:
        yield f"{served.url}/.well-known/jwks.json"


class Shop:
    """The product service, driven through its HTTP API as an admin, plus direct looks at its files and rows."""

    def __init__(self, service: ServiceProcess, keys: TestKeys) -> None:
        self.service = service
        self.url = service.url
        self.db = service.data_dir / "db" / "product.db"
        self.images = service.data_dir / "images"
        self.http = httpx.Client(base_url=self.url, headers=keys.bearer(1, "admin"), timeout=30, trust_env=False)
        self.type_id = self.http.post("/types", json={"type": f"janitor-{uuid.uuid4().hex[:8]}"}).json()[
            "productTypeId"]
        self._colour = 0

    # -- through the API

    def image(self) -> int:
        from PIL import Image

        self._colour += 1
        buffer = io.BytesIO()
        Image.new("RGB", (8 + self._colour % 50, 8), (self._colour % 256, 40, 90)).save(buffer, "PNG")
        response = self.http.post("/images", files={"file": ("x.png", buffer.getvalue(), "image/png")})
        assert response.status_code == 201, response.text
        return int(response.json()["imageId"])

    def product(self, image_ids: list[int]) -> int:
        body = {"name": f"janitor {uuid.uuid4().hex[:6]}", "description": "d", "content": "<p>c</p>",
                "productTypeId": self.type_id, "productStyles": [], "unitPrice": 1000, "quantity": 1,
                "imageIds": image_ids}
        response = self.http.post("/products", json=body)
        assert response.status_code == 201, response.text
        return int(response.json()["productId"])

    def banner(self) -> tuple[int, int]:
        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (30, 10), (200, 10, 10)).save(buffer, "PNG")
        response = self.http.post("/banners", files={"file": ("b.png", buffer.getvalue(), "image/png")},
                                  data={"linkUrl": "/products/1", "position": "3"})
        assert response.status_code == 201, response.text
        banner_id = int(response.json()["bannerId"])
        return banner_id, self.one("SELECT image_id FROM banner WHERE id = ?", banner_id)

    def delete(self, kind: str, row_id: int) -> None:
        response = self.http.delete(f"/{kind}/{row_id}")
        assert response.status_code == 204, response.text

    # -- the clock: move soft deletions into the past (test setup only)

    def deleted_days_ago(self, table: str, ids: list[int], days: float) -> None:
        when = (datetime.now(UTC) - days * DAY).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        marks = ",".join("?" * len(ids))
        with sqlite3.connect(self.db, timeout=15) as conn:
            changed = conn.execute(f"UPDATE {table} SET deleted_at = ? WHERE id IN ({marks})", [when, *ids]).rowcount
        assert changed == len(ids)

    def product_deleted_days_ago(self, product_id: int, image_ids: list[int], days: float) -> None:
        """Backdate a deleted product and the images its deletion released (they share its deleted_at)."""
        marks = ",".join("?" * len(image_ids))
        released = self.ids(f"SELECT id FROM image WHERE deleted_at IS NOT NULL AND id IN ({marks})", *image_ids)
        self.deleted_days_ago("product", [product_id], days)
        if released:
            self.deleted_days_ago("image", released, days)

    # -- looking at rows and files

    def ids(self, sql: str, *args: Any) -> list[int]:
        with sqlite3.connect(self.db, timeout=15) as conn:
            return [row[0] for row in conn.execute(sql, args)]

    def one(self, sql: str, *args: Any) -> Any:
        with sqlite3.connect(self.db, timeout=15) as conn:
            row = conn.execute(sql, args).fetchone()
        return row[0] if row else None

    def exists(self, table: str, row_id: int) -> bool:
        return self.one(f"SELECT COUNT(*) FROM {table} WHERE id = ?", row_id) == 1

    def file(self, image_id: int) -> Path:
        key = self.one("SELECT storage_key FROM image WHERE id = ?", image_id)
        assert key, f"image {image_id} has no row"
        return self.images / key


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, nats: NatsProcess, jwks_url: str,
         keys: TestKeys) -> Iterator[Shop]:
    service = ServiceProcess("product", tmp_path_factory.mktemp("product"), {
        "GLUTA_BUS_URL": nats.url, "GLUTA_BUS_NAMESPACE": f"janitor{uuid.uuid4().hex[:8]}",
        "GLUTA_JWKS_URL": jwks_url, "GLUTA_INTERNAL_TOKEN": "janitor-test-token"})
    try:
        service.start()
        shop = Shop(service, keys)
        yield shop
        shop.http.close()
    finally:
        service.stop()


def janitor_env_values(shop: Shop) -> dict[str, str]:
    return {"GLUTA_STATIC_INSTANCES": json.dumps({"product": [shop.url]}), "GLUTA_CONFIG_URL": "",
            "GLUTA_DISCOVERY_URL": "", "GLUTA_INTERNAL_TOKEN": "janitor-test-token"}


def janitor_env(gluta: Any, shop: Shop, **extra: str) -> dict[str, str]:
    return gluta.env(**{**janitor_env_values(shop), **extra})


def run_cli(gluta: Any, shop: Shop, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return gluta.run("janitor", "run", "--data-dir", str(data_dir), *args, env=janitor_env(gluta, shop))


def run_here(shop: Shop, data_dir: Path, *args: str) -> tuple[int, str]:
    """Run `gluta janitor run ARGS` in this process (faster than a subprocess); return (exit code, stdout)."""
    import contextlib

    from gluta_cli.main import main

    saved = {k: v for k, v in os.environ.items() if k.startswith("GLUTA_")}
    for key in saved:
        del os.environ[key]
    os.environ.update(janitor_env_values(shop))
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            code = main(["janitor", "run", "--data-dir", str(data_dir), *args])
    finally:
        for key in [k for k in os.environ if k.startswith("GLUTA_")]:
            del os.environ[key]
        os.environ.update(saved)
    return code, out.getvalue()


def totals(shop: Shop, data_dir: Path, *args: str) -> dict[str, Any]:
    """Run the janitor in this process with `--json`; return its final (totals) line."""
    code, out = run_here(shop, data_dir, "--json", *args)
    assert code == 0, out
    return json_lines(out)[-1]


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_31_days_ago_goes_29_days_ago_stays(shop: Shop, gluta: Any, tmp_path: Path) -> None:
    old_images, new_images = [shop.image(), shop.image()], [shop.image()]
    old, new = shop.product(old_images), shop.product(new_images)
    old_banner, old_banner_image = shop.banner()
    new_banner, new_banner_image = shop.banner()
    for kind, row_id in (("products", old), ("products", new), ("banners", old_banner), ("banners", new_banner)):
        shop.delete(kind, row_id)
    shop.product_deleted_days_ago(old, old_images, 31)
    shop.product_deleted_days_ago(new, new_images, 29)
    shop.deleted_days_ago("banner", [old_banner], 31)
    shop.deleted_days_ago("image", [old_banner_image], 31)
    shop.deleted_days_ago("banner", [new_banner], 29)
    shop.deleted_days_ago("image", [new_banner_image], 29)
    doomed = [shop.file(i) for i in [*old_images, old_banner_image]]
    kept = [shop.file(i) for i in [*new_images, new_banner_image]]
    doomed_bytes = sum(f.stat().st_size for f in doomed)
    assert all(f.is_file() for f in doomed + kept)

    # a dry run counts and removes nothing
    done = totals(shop, tmp_path, "--dry-run")
    assert (done["found"], done["filesRemoved"], done["rowsRemoved"], done["bytesFreed"]) == (5, 3, 5, doomed_bytes)
    assert all(f.is_file() for f in doomed) and shop.exists("product", old)

    result = run_cli(gluta, shop, tmp_path, "--older-than", "30d")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "more than 30 day(s) ago; removed" in result.stdout
    row = next(line.split() for line in result.stdout.splitlines() if line.startswith("product "))
    assert row[:5] == ["product", shop.url, "5", "3", "5"]

    # 31 days ago: files and rows are gone (product, its image links, its images, the banner and its image)
    assert not any(f.exists() for f in doomed)
    assert not shop.exists("product", old) and not shop.exists("banner", old_banner)
    assert shop.ids("SELECT image_id FROM product_image WHERE product_id = ?", old) == []
    assert not any(shop.exists("image", i) for i in [*old_images, old_banner_image])
    # 29 days ago: everything stays (still soft-deleted, still hidden)
    assert all(f.is_file() for f in kept)
    assert shop.exists("product", new) and shop.exists("banner", new_banner)
    assert all(shop.exists("image", i) for i in [*new_images, new_banner_image])
    assert shop.http.get(f"/products/{new}").status_code == 404

    # printed and logged: `gluta logs janitor` shows the counts
    logs = gluta.run("logs", "janitor", "--data-dir", str(tmp_path), "--json")
    logged = [line for line in json_lines(logs.stdout) if line["event"] == "janitor.service_done"]
    assert [line["dryRun"] for line in logged] == [True, False]
    assert (logged[1]["found"], logged[1]["filesRemoved"], logged[1]["rowsRemoved"], logged[1]["bytesFreed"]) == (
        5, 3, 5, doomed_bytes)

    # idempotent: a second run finds nothing more
    again = totals(shop, tmp_path)
    assert (again["found"], again["filesRemoved"], again["rowsRemoved"]) == (0, 0, 0)
    assert all(f.is_file() for f in kept)

    # a shorter retention takes the 29-day-old ones too (and leaves the shop clean for the next test)
    short = totals(shop, tmp_path, "--older-than", "28d")
    assert (short["found"], short["filesRemoved"], short["rowsRemoved"]) == (4, 2, 4)
    assert not any(f.exists() for f in kept)


def test_a_file_a_live_row_references_stays(shop: Shop, gluta: Any, tmp_path: Path) -> None:
    shared, own = shop.image(), shop.image()
    gone = shop.product([own, shared])
    live = shop.product([shared])
    shop.delete("products", gone)
    assert shop.one("SELECT deleted_at FROM image WHERE id = ?", shared) is None  # still used: not released
    shop.product_deleted_days_ago(gone, [own, shared], 31)
    shared_file, own_file = shop.file(shared), shop.file(own)
    # even when the shared image itself is (wrongly) marked deleted long ago, a live product still uses it
    shop.deleted_days_ago("image", [shared], 40)
    try:
        done = totals(shop, tmp_path)
        assert (done["filesRemoved"], done["rowsRemoved"]) == (1, 2)  # the product and its own image
        assert not own_file.exists() and not shop.exists("product", gone)
        assert shared_file.is_file() and shop.exists("image", shared)
        assert shop.ids("SELECT image_id FROM product_image WHERE product_id = ?", live) == [shared]
        # the live product still shows the image (the row was only marked; restore the mark to look it up)
        with sqlite3.connect(shop.db, timeout=15) as conn:
            conn.execute("UPDATE image SET deleted_at = NULL WHERE id = ?", (shared,))
        assert shop.http.get(f"/images/{shared}").content == shared_file.read_bytes()
    finally:
        with sqlite3.connect(shop.db, timeout=15) as conn:
            conn.execute("UPDATE image SET deleted_at = NULL WHERE id = ?", (shared,))


def test_a_run_cut_after_removing_files_is_finished_by_the_next_run(shop: Shop, gluta: Any, tmp_path: Path) -> None:
    images = [shop.image(), shop.image(), shop.image()]
    product = shop.product(images)
    shop.delete("products", product)
    shop.product_deleted_days_ago(product, images, 31)
    files = [shop.file(i) for i in images]
    # the crash point: the files of the batch were removed, the rows were not
    files[0].unlink()
    files[1].unlink()
    done = totals(shop, tmp_path)
    assert (done["found"], done["filesRemoved"], done["rowsRemoved"]) == (4, 1, 4)  # missing files are no error
    assert not any(f.exists() for f in files) and not shop.exists("product", product)
    assert not any(shop.exists("image", i) for i in images)
    again = totals(shop, tmp_path)
    assert (again["found"], again["rowsRemoved"]) == (0, 0)


def test_a_file_left_after_the_rows_were_removed_is_finished_by_the_next_run(shop: Shop, gluta: Any,
                                                                            tmp_path: Path) -> None:
    image = shop.image()
    product = shop.product([image])
    shop.delete("products", product)
    shop.product_deleted_days_ago(product, [image], 31)
    path = shop.file(image)
    # make the unlink fail after the commit (as a crash or an I/O error at that point would): a directory
    # stands where the file was, so the product's `unlink` raises
    data = path.read_bytes()
    path.unlink()
    path.mkdir()
    (path / "keep").write_bytes(b"x")
    try:
        assert totals(shop, tmp_path)["rowsRemoved"] == 1  # the product goes; the image row waits for its file
        assert not shop.exists("product", product)
        assert shop.exists("image", image)
        shutil.rmtree(path)
        path.write_bytes(data)  # the I/O problem is over: the file is back, the next run should take it
        assert totals(shop, tmp_path)["rowsRemoved"] == 1
        assert not path.exists(), "the file of a removed row is left forever"
        assert not shop.exists("image", image)
    finally:
        if path.is_dir():
            shutil.rmtree(path)
        path.unlink(missing_ok=True)


def test_unauthorised_callers_are_refused_and_reported(shop: Shop, gluta: Any, tmp_path: Path) -> None:
    result = gluta.run("janitor", "run", "--data-dir", str(tmp_path),
                       env=janitor_env(gluta, shop, GLUTA_INTERNAL_TOKEN="wrong"))
    assert result.returncode == 1
    assert "product: HTTP 403" in result.stderr
    failed = json.loads((tmp_path / "log" / "janitor.log").read_text().splitlines()[0])
    assert failed["event"] == "janitor.service_failed" and failed["level"] == "error"


def test_the_schedule_reads_the_real_config_service_and_cleans_the_real_product(
        shop: Shop, nats: NatsProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "config-repo"
    shutil.copytree(REPO / "config-repo", repo)
    config = ServiceProcess("config", tmp_path / "config", {
        "GLUTA_BUS_URL": nats.url, "GLUTA_BUS_NAMESPACE": f"janitor{uuid.uuid4().hex[:8]}",
        "GLUTA_CONFIG_REPO": str(repo)})
    for key in [k for k in os.environ if k.startswith("GLUTA_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("GLUTA_INTERNAL_TOKEN", "janitor-test-token")
    try:
        config.start()
        # the committed janitor.yml, as `gluta up` reads it
        loaded = janitor.load_settings(config.url)
        assert loaded.config_error is None and loaded.config_version
        assert (loaded.settings.janitor_cron, loaded.settings.janitor_older_than_days) == ("0 1 * * 1", 30)
        assert loaded.settings.janitor_services == ["product"]

        # the launcher's data dir: processes.json names the running product
        data_dir = tmp_path / "var"
        paths.write_processes(data_dir, [ProcessRecord("product", 0, shop.service.proc.pid, shop.service.port,
                                                       shop.url, "")])
        kst = timezone(timedelta(hours=9))
        clock_now = [datetime(2026, 11, 29, 23, 0, tzinfo=kst)]  # Sunday 23:00
        schedule = janitor.JanitorSchedule(data_dir, config.url, clock=lambda: clock_now[0])
        assert schedule.tick() is None and schedule.next_run == datetime(2026, 11, 30, 1, 0, tzinfo=kst)

        images = [shop.image()]
        product = shop.product(images)
        shop.delete("products", product)
        shop.product_deleted_days_ago(product, images, 25)
        path = shop.file(images[0])

        clock_now[0] = datetime(2026, 11, 30, 1, 0, 5, tzinfo=kst)  # Monday 01:00: due, 30-day retention
        run = schedule.tick()
        assert run is not None and run.ok and run.trigger == "schedule"
        assert path.is_file() and shop.exists("product", product)  # 25 days < 30: kept

        # the config repo changes; the next slot uses the new values without any restart or refresh
        (repo / "janitor.yml").write_text('janitor_cron: "0 3 * * *"\njanitor_older_than_days: 20\n')
        clock_now[0] = datetime(2026, 11, 30, 2, 0, tzinfo=kst)
        assert schedule.tick() is None and schedule.next_run == datetime(2026, 11, 30, 3, 0, tzinfo=kst)
        clock_now[0] = datetime(2026, 11, 30, 3, 0, 1, tzinfo=kst)
        run = schedule.tick()
        assert run is not None and run.older_than_days == 20 and run.total("rows_removed") == 2
        assert not path.exists() and not shop.exists("product", product)

        events = [json.loads(line) for line in (data_dir / "log" / "janitor.log").read_text().splitlines()]
        done = [e for e in events if e["event"] == "janitor.service_done"]
        assert [(e["olderThanDays"], e["rowsRemoved"], e["trigger"]) for e in done] == [(30, 0, "schedule"),
                                                                                      (20, 2, "schedule")]
    finally:
        config.stop()
