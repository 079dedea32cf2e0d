"""Terminal helpers: optional colour and plain text tables."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from typing import TextIO

CODES = {
    "reset": "\033[0m",
    "bold": "\033[1m",
    "dim": "\033[2m",
    "red": "\033[31m",
    "green": "\033[32m",
    "yellow": "\033[33m",
    "blue": "\033[34m",
    "magenta": "\033[35m",
    "cyan": "\033[36m",
    "bold_red": "\033[1;31m",
}


ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


def visible_len(text: str) -> int:
    """Return the printed width of text, ignoring ANSI colour codes."""
    return len(ANSI_RE.sub("", text))


def use_colour(stream: TextIO | None = None) -> bool:
    """Return True when the stream is a terminal and NO_COLOR is not set."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def paint(text: str, style: str | None, enabled: bool) -> str:
    """Wrap text in an ANSI style when colour is enabled."""
    if not enabled or not style:
        return text
    return f"{CODES[style]}{text}{CODES['reset']}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Return rows as a left-aligned text table with a header line."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(visible_len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(cell + " " * (widths[i] - visible_len(cell)) for i, cell in enumerate(row)).rstrip() for row in cells
    ]
    return "\n".join(lines)
