"""Charts as SVG drawn here on the server: no script, no library, nothing inline the
Content-Security-Policy would refuse (colours are SVG presentation attributes; the
rest of the look comes from reports.css by class).

A hidden value ("<5", "*") gets no bar of its own length and no point: drawing it at
its height would publish what the table hides. It gets a hatched marker of one fixed
size, whatever the value behind it, and its label ("<5", "*"), so the reader sees there
is something there and that it is withheld.

Sizes are in the SVG's own units; reports.css shows a chart at least as wide as its
viewBox on a 1024 px screen, so 13 px labels stay 13 px or more.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from xml.sax.saxutils import escape

from markupsafe import Markup

from app.reports.suppression import Shown

BAR_COLOUR = "#5b2a86"
LINE_COLOUR = "#5b2a86"
GRID_COLOUR = "#c9c9cf"
HATCH_COLOUR = "#5b2a86"
HATCH_GROUND = "#ffffff"
LABEL_CHARS = 30
MAX_AXIS_LABELS = 12
MAX_TICKS = 6  # gridlines above zero, at most
HIDDEN_MARK = 28  # width (bars) or height (months) of a hidden value's marker
NICE_STEPS = (1, 2, 5)


@dataclass(frozen=True)
class Point:
    label: str
    value: Shown


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def nice_ticks(top: int, max_ticks: int = MAX_TICKS) -> list[int]:
    """Axis values from 0 to the first round number at or above `top`, in steps of 1, 2 or
    5 times a power of ten, whole numbers only, at most `max_ticks` steps: 0, 2, 4, 6,
    never 0, 1, 2, 4, 5."""
    top = max(top, 1)
    magnitude = 1
    while True:
        for base in NICE_STEPS:
            step = base * magnitude
            if math.ceil(top / step) <= max_ticks:
                return list(range(0, math.ceil(top / step) * step + 1, step))
        magnitude *= 10


def _hatch_id(title: str) -> str:
    """An id of its own per chart: a page with three charts has three patterns."""
    return "hatch-" + hashlib.sha256(title.encode()).hexdigest()[:10]


def _hatch(pattern_id: str) -> str:
    return (
        f'<defs><pattern id="{pattern_id}" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{HATCH_GROUND}"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{HATCH_COLOUR}" stroke-width="2.5"/>'
        "</pattern></defs>"
    )


def _hidden_mark(pattern_id: str, x: float, y: float, width: float, height: float) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" '
        f'fill="url(#{pattern_id})" stroke="{HATCH_COLOUR}" stroke-width="1" '
        f'class="chart-hidden"/>'
    )


def spoken(title: str, points: list[Point]) -> str:
    """The chart in words, for a screen reader: its title, then each label and value."""
    values = "; ".join(f"{point.label}: {point.value}" for point in points)
    return f"{title}. {values}" if values else title


def _svg(
    width: int, height: int, title: str, body: list[str], points: list[Point] | None = None
) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-label="{_attr(spoken(title, points or []))}">'
        f"<title>{escape(title)}</title>{_hatch(_hatch_id(title))}"
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704  (every text is escaped)


def _numbers(points: list[Point]) -> list[int]:
    return [p.value for p in points if isinstance(p.value, int)]


def bar_chart(title: str, points: list[Point], width: int = 640) -> Markup:
    """Horizontal bars, one per label: long Spanish labels stay readable."""
    label_w, row_h, pad = 230, 30, 8
    scale_w = width - label_w - 60
    top = max(_numbers(points), default=0) or 1
    hatch = _hatch_id(title)
    body = []
    for i, point in enumerate(points):
        y = pad + i * row_h
        body.append(
            f'<text x="{label_w - 6}" y="{y + 20}" text-anchor="end" class="chart-label">'
            f"<title>{escape(point.label)}</title>{escape(_short(point.label))}</text>"
        )
        if isinstance(point.value, int):
            bar = round(scale_w * point.value / top)
            if bar:
                body.append(
                    f'<rect x="{label_w}" y="{y + 5}" width="{bar}" height="{row_h - 10}" '
                    f'fill="{BAR_COLOUR}"/>'
                )
        else:
            bar = HIDDEN_MARK
            body.append(_hidden_mark(hatch, label_w, y + 5, bar, row_h - 10))
        body.append(
            f'<text x="{label_w + bar + 6}" y="{y + 20}" class="chart-value">'
            f"{escape(str(point.value))}</text>"
        )
    return _svg(width, pad * 2 + row_h * max(len(points), 1), title, body, points)


def _y_of(value: int, top: int, plot_top: int, plot_h: int) -> float:
    return plot_top + plot_h - plot_h * value / top


def _grid_lines(ticks: list[int], left: int, right: int, plot_top: int, plot_h: int) -> list[str]:
    lines = []
    for value in ticks:
        y = _y_of(value, ticks[-1], plot_top, plot_h)
        lines.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" '
            f'stroke="{GRID_COLOUR}" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="chart-axis">'
            f"{value}</text>"
        )
    return lines


def _segments(coords: list[tuple[float, float] | None]) -> list[str]:
    """Polylines between runs of known points: a hidden month breaks the line."""
    runs: list[list[tuple[float, float]]] = [[]]
    for coord in coords:
        if coord is None:
            runs.append([])
        else:
            runs[-1].append(coord)
    return [
        f'<polyline points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in run)}" fill="none" '
        f'stroke="{LINE_COLOUR}" stroke-width="2"/>'
        for run in runs
        if len(run) > 1
    ]


def line_chart(title: str, points: list[Point], width: int = 640, height: int = 240) -> Markup:
    """Counts over time (months), with a labelled axis and the hidden months marked."""
    left, right, plot_top, plot_h = 52, width - 32, 12, height - 64  # room for "oct 26"
    ticks = nice_ticks(max(_numbers(points), default=0))
    top, hatch = ticks[-1], _hatch_id(title)
    gap = (right - left) / max(len(points) - 1, 1)
    body = _grid_lines(ticks, left, right, plot_top, plot_h)
    coords: list[tuple[float, float] | None] = []
    every = math.ceil(len(points) / MAX_AXIS_LABELS)  # long periods: label every n-th month
    for i, point in enumerate(points):
        x = left + i * gap if len(points) > 1 else (left + right) / 2
        if i % every == 0:
            body.append(
                f'<text x="{x:.1f}" y="{height - 30}" text-anchor="middle" class="chart-axis">'
                f"{escape(_short(point.label))}</text>"
            )
        if isinstance(point.value, int):
            y = _y_of(point.value, top, plot_top, plot_h)
            coords.append((x, y))
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{LINE_COLOUR}"/>')
        else:
            coords.append(None)
            base = plot_top + plot_h
            body.append(_hidden_mark(hatch, x - 7, base - HIDDEN_MARK, 14, HIDDEN_MARK))
            body.append(
                f'<text x="{x:.1f}" y="{height - 10}" text-anchor="middle" class="chart-value">'
                f"{escape(str(point.value))}</text>"
            )
    return _svg(width, height, title, body + _segments(coords), points)
