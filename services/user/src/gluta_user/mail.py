"""The mail port: `.eml` files under `<data_dir>/mail` locally, SMTP when `smtp_url` is set."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlparse

from gluta_kit.logging import get_logger

log = get_logger("gluta.user.mail")


class Mailer(Protocol):
    """Sends one message; raises when it could not."""

    async def send(self, message: EmailMessage) -> None: ...


def compose(*, sender: str, to: str, subject: str, text: str) -> EmailMessage:
    """Build a plain-text mail."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="glutathione.local")
    message.set_content(text)
    return message


class FileMailer:
    """Write each mail as an `.eml` file (local mode; `gluta mail` lists them)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _write(self, message: EmailMessage) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
        temporary = self.folder / f".{name}.tmp"
        temporary.write_bytes(bytes(message))
        os.replace(temporary, self.folder / name)  # readers never see half a mail
        return self.folder / name

    async def send(self, message: EmailMessage) -> None:
        """Write the mail file."""
        path = await asyncio.to_thread(self._write, message)
        log.info("mail.written", file=path.name, subject=str(message["Subject"]))


class SmtpMailer:
    """Send through an SMTP server given by URL: smtp://[user:pass@]host[:port][?starttls=false], smtps://..."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in {"smtp", "smtps"}:
            raise ValueError(f"unsupported mail URL {url!r}: use smtp:// or smtps://")
        self.hostname = parsed.hostname or "127.0.0.1"
        self.use_tls = parsed.scheme == "smtps"
        self.port = parsed.port or (465 if self.use_tls else 25)
        self.username = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        query = parse_qs(parsed.query)
        starttls = (query.get("starttls") or [""])[0].lower()
        # default: upgrade when the server offers STARTTLS
        self.start_tls: bool | None = None if not starttls else starttls in {"1", "true", "yes"}
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        """Hand the mail to the SMTP server."""
        import aiosmtplib

        await aiosmtplib.send(message, hostname=self.hostname, port=self.port, username=self.username,
                              password=self.password, use_tls=self.use_tls,
                              start_tls=False if self.use_tls else self.start_tls, timeout=self.timeout)
        log.info("mail.sent", server=f"{self.hostname}:{self.port}", subject=str(message["Subject"]))


def build_mailer(smtp_url: str | None, data_dir: Path, timeout: float = 10.0) -> Mailer:
    """Return the SMTP mailer when a URL is configured, else the file mailer."""
    if smtp_url:
        return SmtpMailer(smtp_url, timeout=timeout)
    return FileMailer(data_dir / "mail")


async def deliver(mailer: Mailer, message: EmailMessage, attempts: int = 3) -> bool:
    """Send a mail, retrying a few times; log (never raise) when it cannot go out."""
    for attempt in range(1, attempts + 1):
        try:
            await mailer.send(message)
            return True
        except Exception as exc:
            log.warning("mail.send_failed", attempt=attempt, error=repr(exc))
            if attempt < attempts:
                await asyncio.sleep(0.5 * attempt)
    log.error("mail.dropped", subject=str(message["Subject"]))
    return False
