"""uvicorn's HTTP protocol with one change: the writes of one event-loop step leave as one.

uvicorn writes a response's status line and headers, then its body, in two socket writes. On
loopback and in virtual machines each write that wakes the reader is costly (a wake-up of the
other process, often on the other CPU). Writes made in the same step of the event loop (the
proxy sends start and body back to back) are joined and written once, right after the step:
about a tenth of the gateway's CPU per request on the benchmark. The protocol is the kit's, whose close
lingers while a client is still sending a body the gateway refused (`gluta_kit.server`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from gluta_kit.server import LingeringHttpProtocol


class CoalescingTransport:
    """A transport whose writes are joined until the end of the current event-loop step."""

    __slots__ = ("_transport", "_loop", "_pending")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        """Queue `data`; the queue is written as one piece once the current step is over."""
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(data)

    def flush(self) -> None:
        """Write what is queued now."""
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def write_eof(self) -> None:
        """Write what is queued, then end the sending side (the kit's lingering close)."""
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        """Write what is queued, then close."""
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        """Drop what is queued and close at once."""
        self._pending = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GatewayHttpProtocol(LingeringHttpProtocol):
    """The kit's lingering-close httptools protocol on a coalescing transport."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
