"""Charts as SVG drawn here on the server: no script, no library, nothing inline the
Content-Security-Policy would refuse (colours are SVG presentation attributes; the
rest of the look comes from reports.css by class).

A hidden value ("<5", "*") gets no bar and no point, only its marker: drawing it at
any height would publish what the table hides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape

from markupsafe import Markup

from app.reports.suppression import Shown

BAR_COLOUR = "#5b2a86"
LINE_COLOUR = "#5b2a86"
GRID_COLOUR = "#c9c9cf"
LABEL_CHARS = 30
MAX_AXIS_LABELS = 12


@dataclass(frozen=True)
class Point:
    label: str
    value: Shown


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-label="{_attr(title)}">'
        f"<title>{escape(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704  (every text is escaped)


def _numbers(points: list[Point]) -> list[int]:
    return [p.value for p in points if isinstance(p.value, int)]


def bar_chart(title: str, points: list[Point], width: int = 640) -> Markup:
    """Horizontal bars, one per label: long Spanish labels stay readable."""
    label_w, row_h, pad = 210, 26, 8
    scale_w = width - label_w - 60
    top = max(_numbers(points), default=0) or 1
    body = []
    for i, point in enumerate(points):
        y = pad + i * row_h
        body.append(
            f'<text x="{label_w - 6}" y="{y + 17}" text-anchor="end" class="chart-label">'
            f"<title>{escape(point.label)}</title>{escape(_short(point.label))}</text>"
        )
        shown = str(point.value)
        bar = 0 if not isinstance(point.value, int) else round(scale_w * point.value / top)
        if bar:
            body.append(
                f'<rect x="{label_w}" y="{y + 4}" width="{bar}" height="{row_h - 8}" '
                f'fill="{BAR_COLOUR}"/>'
            )
        body.append(
            f'<text x="{label_w + bar + 6}" y="{y + 17}" class="chart-value">{escape(shown)}</text>'
        )
    return _svg(width, pad * 2 + row_h * max(len(points), 1), title, body)


def _y_of(value: int, top: int, plot_top: int, plot_h: int) -> float:
    return plot_top + plot_h - plot_h * value / top


def _grid_lines(top: int, left: int, right: int, plot_top: int, plot_h: int) -> list[str]:
    lines = []
    for step in range(5):
        value = round(top * step / 4)
        y = _y_of(value, top, plot_top, plot_h)
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
    left, right, plot_top, plot_h = 48, width - 16, 12, height - 60
    top = max(_numbers(points), default=0) or 1
    gap = (right - left) / max(len(points) - 1, 1)
    body = _grid_lines(top, left, right, plot_top, plot_h)
    coords: list[tuple[float, float] | None] = []
    every = math.ceil(len(points) / MAX_AXIS_LABELS)  # long periods: label every n-th month
    for i, point in enumerate(points):
        x = left + i * gap if len(points) > 1 else (left + right) / 2
        if i % every == 0:
            body.append(
                f'<text x="{x:.1f}" y="{height - 28}" text-anchor="middle" class="chart-axis">'
                f"{escape(_short(point.label))}</text>"
            )
        if isinstance(point.value, int):
            y = _y_of(point.value, top, plot_top, plot_h)
            coords.append((x, y))
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{LINE_COLOUR}"/>')
        else:
            coords.append(None)
            body.append(
                f'<text x="{x:.1f}" y="{height - 12}" text-anchor="middle" class="chart-value">'
                f"{escape(str(point.value))}</text>"
            )
    return _svg(width, height, title, body + _segments(coords))
