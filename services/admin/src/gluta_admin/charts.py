"""Server-rendered inline SVG charts: bars with a line, horizontal bars, and filled-of-total bars.

Every chart takes plain numbers and already-translated label strings and returns `Markup`; every piece of
text that reaches the SVG goes through `escape`, so a product named `<script>` is drawn as text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

FONT = "font-family=\"inherit\""


def nice_ticks(max_value: float, count: int = 5, *, integer: bool = False) -> list[float]:
    """Return evenly spaced round tick values from 0 up to at least `max_value` (whole steps for counts)."""
    if not math.isfinite(max_value) or max_value <= 0:
        return [0.0, 1.0]
    raw = max_value / count
    magnitude = 10 ** math.floor(math.log10(raw))
    normalised = raw / magnitude
    step = next(m for m in (1, 2, 2.5, 5, 10) if normalised <= m) * magnitude
    if integer:
        step = max(1.0, float(math.ceil(step)))
    top = math.ceil(max_value / step - 1e-9) * step
    steps = int(round(top / step))
    return [round(i * step, 10) for i in range(steps + 1)]


def compact(value: float) -> str:
    """Return a short axis label: 950, 1.2K, 34M."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= limit:
            text = f"{value / limit:.1f}".rstrip("0").rstrip(".")
            return f"{sign}{text}{suffix}"
    if value == int(value):
        return f"{sign}{int(value)}"
    return f"{sign}{value:.1f}"


def grouped(value: float) -> str:
    """Return a number with thousands separators (1,234,500)."""
    return f"{int(round(value)):,}"


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _empty(message: str, label: str) -> Markup:
    return Markup(f'<div class="chart-empty-box" role="img" aria-label="{escape(label)}">{escape(message)}</div>')


@dataclass(frozen=True)
class Series:
    """One named series of values, drawn as bars or as a line."""

    name: str
    values: Sequence[float]


def bar_line_chart(labels: Sequence[str], bars: Series, line: Series | None = None, *, title: str,
                   empty_message: str = "No data", width: int = 760, height: int = 280,
                   max_x_labels: int = 12) -> Markup:
    """Draw `bars` against a left axis and `line` against a right axis, one slot per label."""
    n = len(labels)
    if n == 0:
        return _empty(empty_message, title)
    left, right, top, bottom = 64, 56 if line else 16, 34, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    bar_ticks = nice_ticks(max((float(v) for v in bars.values), default=0.0))
    bar_max = bar_ticks[-1]
    band = plot_w / n
    bar_w = min(36.0, band * 0.7)
    parts: list[str] = [
        f'<svg class="chart chart-bar-line" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
    ]
    # grid and left axis
    for tick in bar_ticks:
        y = top + plot_h - (tick / bar_max) * plot_h
        parts.append(f'<line class="chart-grid" x1="{left}" x2="{left + plot_w}" y1="{_num(y)}" y2="{_num(y)}"/>')
        parts.append(f'<text class="chart-tick chart-tick-left" x="{left - 8}" y="{_num(y + 4)}" '
                     f'text-anchor="end">{escape(compact(tick))}</text>')
    parts.append(f'<line class="chart-axis" x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}"/>')
    parts.append(f'<line class="chart-axis" x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" '
                 f'y2="{top + plot_h}"/>')
    # bars
    for i, (label, value) in enumerate(zip(labels, bars.values, strict=True)):
        h = (float(value) / bar_max) * plot_h if bar_max else 0.0
        x = left + band * i + (band - bar_w) / 2
        y = top + plot_h - h
        parts.append(
            f'<rect class="chart-bar" x="{_num(x)}" y="{_num(y)}" width="{_num(bar_w)}" height="{_num(h)}" '
            f'data-label="{escape(label)}" data-value="{_num(float(value))}">'
            f"<title>{escape(label)} · {escape(bars.name)} {escape(grouped(float(value)))}</title></rect>"
        )
    # x labels, thinned so they never overlap
    every = max(1, math.ceil(n / max_x_labels))
    for i, label in enumerate(labels):
        if i % every and i != n - 1:
            continue
        x = left + band * i + band / 2
        parts.append(f'<text class="chart-tick chart-tick-x" x="{_num(x)}" y="{top + plot_h + 18}" '
                     f'text-anchor="middle">{escape(label)}</text>')
    # line on a right axis
    if line is not None:
        line_ticks = nice_ticks(max((float(v) for v in line.values), default=0.0), integer=True)
        line_max = line_ticks[-1]
        for tick in line_ticks:
            y = top + plot_h - (tick / line_max) * plot_h
            parts.append(f'<text class="chart-tick chart-tick-right" x="{left + plot_w + 8}" y="{_num(y + 4)}" '
                         f'text-anchor="start">{escape(compact(tick))}</text>')
        points = []
        dots = []
        for i, (label, value) in enumerate(zip(labels, line.values, strict=True)):
            x = left + band * i + band / 2
            y = top + plot_h - (float(value) / line_max) * plot_h
            points.append(f"{_num(x)},{_num(y)}")
            dots.append(f'<circle class="chart-dot" cx="{_num(x)}" cy="{_num(y)}" r="3" '
                        f'data-value="{_num(float(value))}"><title>{escape(label)} · {escape(line.name)} '
                        f"{escape(grouped(float(value)))}</title></circle>")
        parts.append(f'<polyline class="chart-line" fill="none" points="{" ".join(points)}"/>')
        parts.extend(dots)
    # legend
    parts.append(f'<rect class="chart-bar" x="{left}" y="8" width="12" height="12" rx="2"/>'
                 f'<text class="chart-legend" x="{left + 18}" y="18">{escape(bars.name)}</text>')
    if line is not None:
        lx = left + 40 + 9 * len(bars.name) + 24
        parts.append(f'<line class="chart-line" x1="{lx}" x2="{lx + 16}" y1="14" y2="14"/>'
                     f'<circle class="chart-dot" cx="{lx + 8}" cy="14" r="3"/>'
                     f'<text class="chart-legend" x="{lx + 22}" y="18">{escape(line.name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def hbar_chart(items: Sequence[tuple[str, float]], *, title: str, value_name: str, empty_message: str = "No data",
               width: int = 520, row_height: int = 30, label_chars: int = 14) -> Markup:
    """Draw one horizontal bar per (label, value), longest for the largest value."""
    if not items:
        return _empty(empty_message, title)
    left, right, top = 140, 70, 12
    height = top + row_height * len(items) + 28
    plot_w = width - left - right
    ticks = nice_ticks(max(float(v) for _, v in items), integer=all(float(v).is_integer() for _, v in items))
    vmax = ticks[-1]
    parts = [
        f'<svg class="chart chart-hbar" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
    ]
    bottom = top + row_height * len(items)
    for tick in ticks:
        x = left + (tick / vmax) * plot_w
        parts.append(f'<line class="chart-grid" x1="{_num(x)}" x2="{_num(x)}" y1="{top}" y2="{bottom}"/>'
                     f'<text class="chart-tick" x="{_num(x)}" y="{bottom + 16}" text-anchor="middle">'
                     f"{escape(compact(tick))}</text>")
    for i, (label, value) in enumerate(items):
        y = top + row_height * i
        w = (float(value) / vmax) * plot_w
        parts.append(
            f'<text class="chart-label" x="{left - 8}" y="{_num(y + row_height / 2 + 4)}" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(_shorten(label, label_chars))}</text>"
            f'<rect class="chart-bar" x="{left}" y="{_num(y + 5)}" width="{_num(w)}" height="{row_height - 10}" '
            f'rx="3" data-label="{escape(label)}" data-value="{_num(float(value))}">'
            f"<title>{escape(label)} · {escape(value_name)} {escape(grouped(float(value)))}</title></rect>"
            f'<text class="chart-value" x="{_num(left + w + 6)}" y="{_num(y + row_height / 2 + 4)}">'
            f"{escape(grouped(float(value)))}</text>"
        )
    parts.append(f'<line class="chart-axis" x1="{left}" x2="{left}" y1="{top}" y2="{bottom}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def filled_bars(items: Sequence[tuple[str, int, int | None]], *, title: str, unlimited_label: str,
                empty_message: str = "No data", width: int = 760, row_height: int = 30,
                label_chars: int = 18) -> Markup:
    """Draw, per (label, done, total), a track for `total` filled up to `done` (total None = unlimited)."""
    if not items:
        return _empty(empty_message, title)
    left, right, top = 170, 130, 8
    height = top + row_height * len(items) + 8
    plot_w = width - left - right
    parts = [
        f'<svg class="chart chart-filled" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, done, total) in enumerate(items):
        y = top + row_height * i
        if total is None:
            share, caption, track = 0.0, f"{grouped(done)} / {unlimited_label}", "chart-track chart-track-open"
        else:
            share = min(1.0, done / total) if total > 0 else 1.0
            caption, track = f"{grouped(done)} / {grouped(total)}", "chart-track"
        fill_w = share * plot_w
        parts.append(
            f'<text class="chart-label" x="{left - 8}" y="{_num(y + row_height / 2 + 4)}" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(_shorten(label, label_chars))}</text>"
            f'<rect class="{track}" x="{left}" y="{_num(y + 6)}" width="{plot_w}" height="{row_height - 12}" rx="4"/>'
            f'<rect class="chart-fill" x="{left}" y="{_num(y + 6)}" width="{_num(fill_w)}" '
            f'height="{row_height - 12}" rx="4" data-done="{done}" data-total="{"" if total is None else total}">'
            f"<title>{escape(label)}: {escape(caption)}</title></rect>"
            f'<text class="chart-value" x="{left + plot_w + 8}" y="{_num(y + row_height / 2 + 4)}">'
            f"{escape(caption)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
