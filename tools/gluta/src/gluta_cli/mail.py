"""`gluta mail`: the mails the services wrote as `.eml` files under `<data_dir>/mail`."""

from __future__ import annotations

import html
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TextIO, cast

from gluta_cli import paths
from gluta_cli.console import format_table


@dataclass
class MailSummary:
    """Headers of one `.eml` file."""

    path: Path
    time: datetime
    to: str
    subject: str


def read_message(path: Path, headers_only: bool = False) -> EmailMessage:
    """Parse an `.eml` file."""
    with open(path, "rb") as fh:
        return BytesParser(policy=policy.default).parse(fh, headersonly=headers_only)


def summarize(path: Path) -> MailSummary:
    """Return the time, recipient and subject of an `.eml` file (file time when Date is missing)."""
    message = read_message(path, headers_only=True)
    when: datetime | None = None
    if message["Date"]:
        try:
            when = parsedate_to_datetime(str(message["Date"]))
        except (TypeError, ValueError):
            when = None
    if when is None:
        when = datetime.fromtimestamp(path.stat().st_mtime)
    if when.tzinfo is None:
        when = when.astimezone()
    return MailSummary(path, when, str(message["To"] or ""), str(message["Subject"] or ""))


def list_mail(data_dir: Path) -> list[MailSummary]:
    """Return every mail of the data dir, newest first."""
    folder = paths.mail_dir(data_dir)
    if not folder.is_dir():
        return []
    summaries = []
    for path in folder.glob("*.eml"):
        try:
            summaries.append(summarize(path))
        except OSError:
            continue
    return sorted(summaries, key=lambda m: (m.time, m.path.stat().st_mtime, m.path.name), reverse=True)


def run_mail_list(data_dir: Path, lines: int = 20, out: TextIO | None = None) -> int:
    """Print the newest mails (time, to, subject, file)."""
    out = out or sys.stdout
    mails = list_mail(data_dir)
    if not mails:
        print(f"no mail in {paths.mail_dir(data_dir)}", file=out)
        return 0
    shown = mails[:lines] if lines > 0 else mails
    rows = [[m.time.astimezone().strftime("%Y-%m-%d %H:%M:%S"), m.to, m.subject, m.path.name] for m in shown]
    print(format_table(["TIME", "TO", "SUBJECT", "FILE"], rows), file=out)
    if len(shown) < len(mails):
        print(f"({len(mails) - len(shown)} older not shown; --lines 0 shows all)", file=out)
    return 0


def resolve_mail(data_dir: Path, which: str) -> Path | None:
    """Return the `.eml` path for `latest`, a file name in the mail dir, or a path."""
    if which == "latest":
        mails = list_mail(data_dir)
        return mails[0].path if mails else None
    folder = paths.mail_dir(data_dir)
    for candidate in (folder / which, folder / f"{which}.eml", Path(which)):
        if candidate.is_file():
            return candidate
    return None


def _html_to_text(markup: str) -> str:
    markup = re.sub(r"(?is)<(script|style).*?</\1>", "", markup)
    markup = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</h\d>|</li>|</tr>", "\n", markup)
    text = html.unescape(re.sub(r"<[^>]+>", "", markup))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def message_text(message: EmailMessage) -> str:
    """Return the readable body: the text part, else the HTML part without tags."""
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    content = cast(EmailMessage, body).get_content()
    if not isinstance(content, str):
        return ""
    return _html_to_text(content) if body.get_content_type() == "text/html" else content.rstrip()


def run_mail_show(data_dir: Path, which: str, out: TextIO | None = None) -> int:
    """Print one mail's headers and body; 1 when it cannot be found."""
    out = out or sys.stdout
    path = resolve_mail(data_dir, which)
    if path is None:
        print(f"no mail {which!r} in {paths.mail_dir(data_dir)}", file=sys.stderr)
        return 1
    message = read_message(path)
    print(f"File:    {path}", file=out)
    for header in ("Date", "From", "To", "Subject"):
        if message[header]:
            print(f"{header + ':':<8} {message[header]}", file=out)
    print("", file=out)
    print(message_text(message), file=out)
    attachments = [part.get_filename() for part in message.iter_attachments()]
    if attachments:
        print("\nattachments: " + ", ".join(str(a) for a in attachments), file=out)
    return 0
