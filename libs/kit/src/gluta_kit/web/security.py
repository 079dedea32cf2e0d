"""Browser protections added to every answer of a web front-end."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class SecurityHeaders:
    """Pages may not be framed, leak their address, be sniffed, or run scripts from anywhere but here.

    `csp` is the Content-Security-Policy of HTML answers; with `html_no_store`, HTML answers that set no
    cache policy of their own are never cached (pages that hold customer or operator data).
    """

    def __init__(self, app: ASGIApp, *, csp: str, html_no_store: bool = False) -> None:
        self.app = app
        self.csp = csp.encode()
        self.html_no_store = html_no_store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
                         (b"x-frame-options", b"DENY")]
                if dict(headers).get(b"content-type", b"").startswith(b"text/html"):
                    extra.append((b"content-security-policy", self.csp))
                    if self.html_no_store:
                        extra.append((b"cache-control", b"no-store"))
                headers.extend((name, value) for name, value in extra if name not in names)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)
