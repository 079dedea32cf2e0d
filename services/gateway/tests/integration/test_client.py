"""The proxy's HTTP client against raw servers on 127.0.0.1 that answer well, oddly or badly."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from gluta_gateway.client import BadResponse, ConnectFailed, ConnectionBroken, ReadTimeout, UpstreamPool

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """Serve `handler` per connection; yield the base URL and a list counting connections."""
    connections: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", connections
    finally:
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """Read one request's head and its body (by Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").lower().split("\r\n")
    length = next((int(line.split(":")[1]) for line in lines if line.startswith("content-length:")), 0)
    if any(line.startswith("transfer-encoding: chunked") for line in lines):
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return head, body
            body += chunk[:-2]
    return head, await reader.readexactly(length) if length else b""


async def test_keep_alive_connections_are_reused(tmp_path) -> None:
    async def handler(reader, writer):
        while True:
            head, body = await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\nx-n: 1\r\n\r\n%b" % (len(body), body))
            await writer.drain()

    pool = UpstreamPool()
    async with raw_server(handler) as (url, connections):
        for n in range(5):
            response = await pool.request(url, "POST", b"/x", [(b"content-type", b"text/plain")], b"body%d" % n,
                                          read_timeout=2)
            assert response.status == 200
            assert (b"x-n", b"1") in response.headers
            assert await response.read(2) == b"body%d" % n
            response.release()
        assert len(connections) == 1
    await pool.close()


async def test_a_chunked_answer_and_a_chunked_request(tmp_path) -> None:
    async def handler(reader, writer):
        head, body = await read_request(reader)
        assert b"transfer-encoding: chunked" in head.lower()
        writer.write(b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n")
        for part in (body[:3], body[3:]):
            writer.write(b"%x\r\n%b\r\n" % (len(part), part))
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def body():
        yield b"hello "
        yield b"world"

    pool = UpstreamPool()
    async with raw_server(handler) as (url, _):
        response = await pool.request(url, "POST", b"/x", [], body(), read_timeout=2)
        assert response.status == 201
        assert response.content_length is None
        assert [chunk async for chunk in response.iter_chunks(2)] == [b"hel", b"lo world"]
        response.release()
    await pool.close()


async def test_an_answer_delimited_by_closing_the_connection(tmp_path) -> None:
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end")
        await writer.drain()

    pool = UpstreamPool()
    async with raw_server(handler) as (url, _):
        response = await pool.request(url, "GET", b"/", [], None, read_timeout=2)
        assert await response.read(2) == b"until the end"
        response.release()
        assert pool.open_connections == 0  # not kept: the service said close
    await pool.close()


async def test_an_idle_connection_the_service_closed_is_not_reused(tmp_path) -> None:
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        # then close the kept-alive connection, as uvicorn does after its keep-alive timeout

    pool = UpstreamPool()
    async with raw_server(handler) as (url, connections):
        for _ in range(3):
            response = await pool.request(url, "GET", b"/", [], None, read_timeout=2)
            assert await response.read(2) == b"ok"
            response.release()
            await asyncio.sleep(0.05)  # the close reaches us
        assert len(connections) == 3
    await pool.close()


async def test_connections_idle_too_long_are_dropped_before_use(tmp_path) -> None:
    async def handler(reader, writer):
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            await writer.drain()

    pool = UpstreamPool(idle_seconds=0.05)
    async with raw_server(handler) as (url, connections):
        for _ in range(2):
            response = await pool.request(url, "DELETE", b"/", [], None, read_timeout=2)
            assert response.status == 204 and response.complete
            response.release()
            await asyncio.sleep(0.1)
        assert len(connections) == 2
    await pool.close()


async def test_a_refused_connection_is_a_connect_failure() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    pool = UpstreamPool()
    with pytest.raises(ConnectFailed):
        await pool.request(f"http://127.0.0.1:{port}", "GET", b"/", [], None, read_timeout=1)
    await pool.close()


async def test_a_service_that_hangs_up_or_babbles_or_sleeps(tmp_path) -> None:
    async def hang_up(reader, writer):
        await read_request(reader)

    async def babble(reader, writer):
        await read_request(reader)
        writer.write(b"this is not http\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async def cut(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part")
        await writer.drain()

    async def sleep(reader, writer):
        await read_request(reader)
        await asyncio.sleep(2)

    pool = UpstreamPool()
    async with raw_server(hang_up) as (url, _):
        with pytest.raises(ConnectionBroken):
            await pool.request(url, "GET", b"/", [], None, read_timeout=2)
    async with raw_server(babble) as (url, _):
        with pytest.raises(BadResponse):
            await pool.request(url, "GET", b"/", [], None, read_timeout=2)
    async with raw_server(cut) as (url, _):
        response = await pool.request(url, "GET", b"/", [], None, read_timeout=2)
        with pytest.raises(ConnectionBroken):
            await response.read(2)
        response.close()
    async with raw_server(sleep) as (url, _):
        with pytest.raises(ReadTimeout):
            await pool.request(url, "GET", b"/", [], None, read_timeout=0.1)
    assert pool.open_connections == 0
    await pool.close()


async def test_a_service_that_answers_before_reading_a_large_body(tmp_path) -> None:
    async def early(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()

    async def body():
        for _ in range(200):
            yield b"z" * 65536
            await asyncio.sleep(0)

    pool = UpstreamPool()
    async with raw_server(early) as (url, _):
        response = await pool.request(url, "POST", b"/", [], body(), read_timeout=2, content_length=200 * 65536)
        assert response.status == 413  # its early answer, not a broken pipe
        response.release()
    await pool.close()
