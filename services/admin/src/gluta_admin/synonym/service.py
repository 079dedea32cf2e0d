"""The synonym list as an operator edits it: one entry per line, read and written as text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_LINES = 2000


@dataclass
class Parsed:
    """Entries ready for PUT /synonyms, or the lines that could not be read."""

    items: list[dict[str, Any]] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)  # 1-based line numbers


def parse_lines(text: str) -> Parsed:
    """Read `term => a, b` (one way) and `a, b, c` (each finds the others) lines; `#` starts a comment."""
    parsed = Parsed()
    merged: dict[str, list[str]] = {}
    for number, raw in enumerate(text.splitlines()[:MAX_LINES], start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "=>" in line:
            left, right = line.split("=>", 1)
            terms = [left.strip()]
            targets = [w.strip() for w in right.split(",") if w.strip()]
            pairs = [(terms[0], targets)] if terms[0] and targets and "," not in left else []
        else:
            words = [w.strip() for w in line.split(",") if w.strip()]
            pairs = [(w, [o for o in words if o != w]) for w in words] if len(words) > 1 else []
        if not pairs:
            parsed.errors.append(number)
            continue
        for term, targets in pairs:
            merged.setdefault(term, [])
            merged[term] += [t for t in targets if t not in merged[term]]
    parsed.items = [{"term": t, "synonyms": s} for t, s in merged.items()]
    return parsed


def as_lines(items: list[dict[str, Any]]) -> str:
    """Write entries as `term => a, b` lines (the form the page shows)."""
    return "\n".join(f"{item['term']} => {', '.join(item['synonyms'])}" for item in items)
