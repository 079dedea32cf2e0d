"""uvicorn's httptools protocol with a lingering close, as nginx does it.

A server that answers before it has read the request body (413 for a body over the limit, 401 on an
upload without a token) and then closes the connection leaves the unread body in its socket's receive
buffer; the kernel then resets the connection, and a client still sending (Python's urllib and
http.client send the whole body before they read) sees "connection reset" or "broken pipe" instead of
the answer. nginx avoids it with a lingering close: it shuts down its sending side (the client sees the
end of the answer), then reads and discards what the client still sends until the client closes, a
pause, a time limit or (here) a byte limit, and only then closes.

This protocol does the same whenever a connection is to be closed while the body of the request being read
has not fully arrived: after an answer with `Connection: close` (the 413s of the gateway and of `BodyLimit`
say so), when the client asked for it (urllib does), on a parse error or at shutdown. A kept-alive
connection stays as uvicorn keeps it: the rest of an unread body is parsed and dropped, and the next
request is answered (closing it instead would race with a client about to reuse it). Nothing changes for
requests whose body was read.
`BodyLimit` is the middleware that refuses bodies over the limits (413) in every FastAPI service.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gluta_kit.errors import problem

LINGER_MAX_BYTES = 64 * 1024 * 1024  # discarded at most, then the connection is closed regardless
LINGER_SECONDS = 30.0  # in all (nginx's lingering_time)
LINGER_IDLE_SECONDS = 5.0  # without any data from the client (nginx's lingering_timeout)


class LingeringTransport:
    """The transport uvicorn writes to; `close()` lingers when the client is still sending a body."""

    __slots__ = ("_transport", "_protocol", "write")

    def __init__(self, transport: asyncio.Transport, protocol: LingeringHttpProtocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self.write = transport.write  # the hot path: no indirection per write

    def close(self) -> None:
        """Close now, or linger first when the request body is still arriving."""
        self._protocol.close_or_linger()

    def is_closing(self) -> bool:
        """A lingering connection counts as closing: uvicorn must not reuse it."""
        return self._protocol.lingering or self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class LingeringHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol whose closes linger while the client is still sending its body."""

    linger_max_bytes = LINGER_MAX_BYTES
    linger_seconds = LINGER_SECONDS
    linger_idle_seconds = LINGER_IDLE_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lingering = False
        self._receiving = False  # the parser is inside a request whose end has not arrived
        self._lost = False
        self._raw: asyncio.Transport | None = None
        self._discarded = 0
        self._linger_deadline = 0.0
        self._linger_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._raw = transport
        super().connection_made(LingeringTransport(transport, self))  # type: ignore[arg-type]

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.lingering:
            self._discard(len(data))
            return
        super().data_received(data)

    def eof_received(self) -> bool | None:
        # the client has finished sending: a lingering close is over (returning None closes the transport)
        return None

    def on_message_begin(self) -> None:
        self._receiving = True
        super().on_message_begin()

    def on_message_complete(self) -> None:
        self._receiving = False
        super().on_message_complete()

    def shutdown(self) -> None:
        if self.lingering:
            self._close_now()
            return
        super().shutdown()

    def close_or_linger(self) -> None:
        """Close the connection; when the client is still sending a body, linger first."""
        if self.lingering:
            return
        raw = self._raw
        if raw is None or self._lost or raw.is_closing() or not self._receiving:
            self._close_now()
            return
        self.lingering = True
        try:
            if raw.can_write_eof():
                raw.write_eof()  # the answer is complete: the client sees the end of it
        except (OSError, RuntimeError):
            self._close_now()
            return
        self.flow.resume_reading()
        loop = asyncio.get_running_loop()
        self._linger_deadline = loop.time() + self.linger_seconds
        self._linger_timer = loop.call_later(self.linger_idle_seconds, self._close_now)

    def _discard(self, size: int) -> None:
        self._discarded += size
        loop = asyncio.get_running_loop()
        if self._discarded > self.linger_max_bytes or loop.time() >= self._linger_deadline:
            self._close_now()
            return
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        wait = min(self.linger_idle_seconds, self._linger_deadline - loop.time())
        self._linger_timer = loop.call_later(wait, self._close_now)

    def _close_now(self) -> None:
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        raw = self._raw
        if raw is not None and not raw.is_closing():
            raw.close()


MIB = 1024 * 1024


class BodyLimit:
    """Refuse a request body over the limit with 413: on its declared length before reading it, else as it streams.

    Multipart bodies may be up to `upload_bytes`, any other body up to `json_bytes` (the gateway's rule, so a
    service called directly holds the same line). A refused declared body ends the connection (`Connection:
    close`), with the protocol's lingering close, so the client still gets the answer.
    """

    def __init__(self, app: ASGIApp, json_bytes: int = MIB, upload_bytes: int | None = None) -> None:
        self.app = app
        self.json_bytes = json_bytes
        self.upload_bytes = upload_bytes or json_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = content_type = chunked = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"content-type":
                content_type = value
            elif name == b"transfer-encoding":
                chunked = value
        limit = self.upload_bytes if content_type and content_type.startswith(b"multipart/") else self.json_bytes
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                too_big = False  # the HTTP parser refuses a malformed length before this runs
            if too_big:
                response = problem(413, "PAYLOAD_TOO_LARGE", "Payload too large",
                                   f"this request body is limited to {limit} bytes")
                response.headers["Connection"] = "close"
                await response(scope, receive, send)
                return
            await self.app(scope, receive, send)  # the parser delivers no more than the declared length
            return
        if chunked is None:  # no body at all
            await self.app(scope, receive, send)
            return
        total = 0

        async def counted() -> Message:
            nonlocal total
            message = await receive()
            total += len(message.get("body", b""))
            if total > limit:
                # an HTTPException: FastAPI passes it on from body parsing (anything else becomes a 400),
                # and the kit's handler answers it as problem+json PAYLOAD_TOO_LARGE
                raise HTTPException(413, f"this request body is limited to {limit} bytes",
                                    headers={"Connection": "close"})
            return message

        await self.app(scope, counted, send)
