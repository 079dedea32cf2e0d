"""The kit's HTTP protocol and body limits: a client still sending a refused body gets the answer, not a reset.

A real uvicorn server (the protocol `gluta_kit.service.run` uses) on a free port of 127.0.0.1, and real
clients: Python's urllib (which sends the whole body before it reads, and asks for `Connection: close`),
httpx (keep-alive) and a raw socket.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import APIRouter, Request
from starlette.types import Receive, Scope, Send

from gluta_kit.errors import problem
from gluta_kit.server import LingeringHttpProtocol
from gluta_kit.service import Service
from gluta_kit.settings import ServiceSettings
from gluta_kit.testing import make_settings

LIMIT = 1024 * 1024
THREE_MB_JSON = json.dumps({"content": "y" * (3 * 1024 * 1024)}).encode()


async def refuse_large_bodies(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer 413 before reading a body declared over the limit (as the gateway and the services do)."""
    if scope["type"] != "http":
        return
    length = int(dict(scope["headers"]).get(b"content-length", b"0"))
    if length > LIMIT:
        refused = problem(413, "PAYLOAD_TOO_LARGE", "Payload too large")
        if dict(scope["headers"]).get(b"x-keep-alive") is None:
            refused.headers["Connection"] = "close"  # as the gateway's and BodyLimit's 413s say
        await refused(scope, receive, send)
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"%d" % len(body)})


def serving(protocol: type[LingeringHttpProtocol]) -> Any:
    return serving_app(refuse_large_bodies, protocol)


@asynccontextmanager
async def serving_app(app: Any, protocol: type[LingeringHttpProtocol] = LingeringHttpProtocol) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, http=protocol, log_config=None, access_log=False, lifespan="off",
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn's server offers no event to wait on)
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


def urllib_post(url: str, body: bytes) -> tuple[int | str, bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError as exc:  # URLError (a reset, a broken pipe) included
        return repr(exc), b""


async def test_urllib_sending_3_mb_always_gets_the_413_problem() -> None:
    async with serving(LingeringHttpProtocol) as url:
        answers = [await asyncio.to_thread(urllib_post, url, THREE_MB_JSON) for _ in range(20)]
        small = await asyncio.to_thread(urllib_post, url, b"{}")
    assert [status for status, _ in answers] == [413] * 20, [status for status, _ in answers]
    assert all(json.loads(body)["code"] == "PAYLOAD_TOO_LARGE" for _, body in answers)
    assert small == (200, b"2")  # a body that fits is read and answered as before


async def test_a_keep_alive_client_gets_the_413_and_its_next_request_is_answered() -> None:
    async with serving(LingeringHttpProtocol) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        for keep_alive in (False, True, False):  # the connection ends after the 413, or stays
            refused = await client.post("/", content=THREE_MB_JSON, headers={"x-keep-alive": "1"} if keep_alive else {})
            assert refused.status_code == 413
            fits = await client.post("/", content=b"12345")
            assert (fits.status_code, fits.text) == (200, "5")


@contextmanager
def raw_connection(url: str) -> Iterator[socket.socket]:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    try:
        yield sock
    finally:
        sock.close()


def read_until_eof(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


async def test_the_answer_ends_while_the_client_is_still_sending() -> None:
    """The server ends its side after the answer (the client sees it end) and keeps reading what comes."""

    def exchange(url: str) -> tuple[bytes, int]:
        with raw_connection(url) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % (10 * LIMIT) + b"y" * 100_000)
            answer = read_until_eof(sock)  # EOF while 9.9 MB of the body are still unsent
            sent = 0
            for _ in range(40):  # the rest is still read (and discarded): no reset
                sock.sendall(b"y" * 100_000)
                sent += 100_000
            return answer, sent

    async with serving(LingeringHttpProtocol) as url:
        answer, sent = await asyncio.to_thread(exchange, url)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["code"] == "PAYLOAD_TOO_LARGE"
    assert sent == 4_000_000


class SmallLinger(LingeringHttpProtocol):
    linger_max_bytes = 256 * 1024
    linger_idle_seconds = 0.5


async def test_lingering_is_bounded_in_bytes_and_in_idle_time() -> None:
    def keep_sending(url: str) -> tuple[int, Any]:
        with raw_connection(url) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (100 * LIMIT))
            sent = 0
            try:
                while sent < 100 * LIMIT:
                    sock.sendall(b"y" * 65536)
                    sent += 65536
            except OSError as exc:
                return sent, exc
            return sent, None

    def go_quiet(url: str) -> float:
        with raw_connection(url) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (2 * LIMIT) + b"y" * 1000)
            read_until_eof(sock)
            started = time.monotonic()
            time.sleep(1.5)  # quiet for longer than the idle limit: the server has closed by now
            try:
                for _ in range(20):
                    sock.sendall(b"y" * 1000)
                    time.sleep(0.05)
            except OSError:
                return time.monotonic() - started
            return -1.0

    async with serving(SmallLinger) as url:
        sent, error = await asyncio.to_thread(keep_sending, url)
        assert error is not None and sent < 20 * LIMIT, (sent, error)  # cut soon after 256 KiB
        assert 0 < await asyncio.to_thread(go_quiet, url) < 3


async def test_every_service_refuses_bodies_over_its_limits_declared_or_streamed(tmp_path) -> None:
    """`Service.create_app` limits bodies as the gateway does: 1 MiB, multipart up to the upload limit."""
    router = APIRouter()

    @router.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    settings = make_settings(ServiceSettings, tmp_path, discovery_url=None, config_url=None)
    app = Service(settings, uses_bus=False).create_app([router], max_upload_bytes=3 * LIMIT)

    async def chunks(total: int) -> AsyncIterator[bytes]:
        for _ in range(total // 65536):
            yield b"y" * 65536

    async with serving_app(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        declared = await client.post("/echo", content=b"y" * (LIMIT + 1), headers={"content-type": "application/json"})
        fits = await client.post("/echo", content=b"y" * LIMIT, headers={"content-type": "application/json"})
        upload = await client.post("/echo", content=b"y" * (2 * LIMIT), headers={"content-type": "multipart/form-data"})
        streamed = await client.post("/echo", content=chunks(2 * LIMIT), headers={"content-type": "application/json"})
        streamed_fits = await client.post("/echo", content=chunks(LIMIT), headers={"content-type": "text/plain"})
    assert (declared.status_code, declared.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert declared.headers["connection"] == "close"
    assert fits.json() == {"bytes": LIMIT}
    assert upload.json() == {"bytes": 2 * LIMIT}
    assert (streamed.status_code, streamed.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert streamed.headers["content-type"] == "application/problem+json"
    assert streamed_fits.json() == {"bytes": LIMIT}
