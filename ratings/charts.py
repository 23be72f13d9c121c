"""The credit profile's charts, drawn on the server as inline SVG.

Pure functions: data in, an SVG document fragment out, no database and no
clock. Every text is escaped here, so the result is safe to put in a page as it
is. The charts draw with presentation attributes only (no ``style``), so the
site's content security policy needs no exception, and they need no script.

Each chart is an image for assistive technology (``role="img"``) named by its
``<title>`` and described by its ``<desc>`` through ``aria-labelledby``; the
page puts a table of the same figures beside it as the text alternative.

Colours are checked against the white background for WCAG AA: text and marks
``#1f2328`` (15.8:1) and ``#0a58ca`` (6.4:1), axes ``#5c636a`` (6.3:1), the
unused share of a bar ``#6c757d`` outline (4.7:1) on a light fill.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape

from django.utils.safestring import SafeString, mark_safe

TEXT = "#1f2328"
MARK = "#0a58ca"
AXIS = "#5c636a"
GRID = "#d0d7de"
TRACK_FILL = "#f1f3f5"
TRACK_LINE = "#6c757d"
FONT = "system-ui, -apple-system, 'PingFang SC', 'Microsoft YaHei', sans-serif"


@dataclass(frozen=True, slots=True)
class GradePoint:
    """A published grade: when, which grade, and the words its mark says."""

    at: datetime
    grade: str
    label: str


@dataclass(frozen=True, slots=True)
class Bar:
    """An indicator's contribution (points of score) against the most it could
    have given (its share of the weight, in points); ``contribution`` is
    ``None`` when the indicator had no data."""

    label: str
    contribution: Decimal | None
    maximum: Decimal


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _open(*, chart_id: str, width: int, height: int, title: str, desc: str) -> str:
    ident = _text(chart_id)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="credit-chart" '
        f'id="{ident}" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{ident}-title {ident}-desc" '
        f'font-family="{_text(FONT)}" font-size="12" fill="{TEXT}">'
        f'<title id="{ident}-title">{_text(title)}</title>'
        f'<desc id="{ident}-desc">{_text(desc)}</desc>'
    )


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def grade_history_svg(
    *,
    points: Sequence[GradePoint],
    scale: Sequence[str],
    title: str,
    desc: str,
    chart_id: str,
    date_format: str = "%Y-%m-%d",
) -> SafeString:
    """A step line of the grades over time: each grade holds until the next
    publication. The y axis lists ``scale`` from the best (top) to the worst
    (bottom); a grade not on the scale is added at the bottom. One circle
    (``class="mark"``) per point, in time order."""
    ordered = sorted(points, key=lambda p: p.at)
    grades = list(dict.fromkeys(scale))
    for point in ordered:
        if point.grade not in grades:
            grades.append(point.grade)
    width, left, right, top, row = 560, 48, 24, 16, 28
    plot_height = max(len(grades) - 1, 1) * row
    height = top + plot_height + 44
    parts = [
        _open(chart_id=chart_id, width=width, height=height, title=title, desc=desc)
    ]

    def y_of(grade: str) -> float:
        if len(grades) == 1:
            return top + plot_height / 2
        return top + grades.index(grade) * row

    parts.append('<g class="y-axis" text-anchor="end">')
    for grade in grades:
        y = y_of(grade)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{_number(y)}" '
            f'y2="{_number(y)}" stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{left - 8}" y="{_number(y + 4)}">{_text(grade)}</text>'
        )
    parts.append("</g>")
    base = top + plot_height
    parts.append(
        f'<line class="x-axis" x1="{left}" x2="{width - right}" '
        f'y1="{base + 8}" y2="{base + 8}" stroke="{AXIS}" stroke-width="1"/>'
    )
    if ordered:
        span = (ordered[-1].at - ordered[0].at).total_seconds()
        plot_width = width - left - right - 16

        def x_of(index: int) -> float:
            if span <= 0:
                return left + 8 + (plot_width * (index + 1) / (len(ordered) + 1))
            elapsed = (ordered[index].at - ordered[0].at).total_seconds()
            return left + 8 + plot_width * elapsed / span

        xs = [x_of(i) for i in range(len(ordered))]
        steps = [f"M{_number(xs[0])},{_number(y_of(ordered[0].grade))}"]
        for index in range(1, len(ordered)):
            steps.append(f"H{_number(xs[index])}")
            steps.append(f"V{_number(y_of(ordered[index].grade))}")
        steps.append(f"H{width - right}")
        parts.append(
            f'<path class="step-line" d="{" ".join(steps)}" fill="none" '
            f'stroke="{MARK}" stroke-width="2.5"/>'
        )
        for x, point in zip(xs, ordered, strict=True):
            parts.append(
                f'<circle class="mark" cx="{_number(x)}" '
                f'cy="{_number(y_of(point.grade))}" r="5" fill="{MARK}" '
                f'stroke="#ffffff" stroke-width="1.5"><title>{_text(point.label)}'
                f"</title></circle>"
            )
        labels = {0: ordered[0], len(ordered) - 1: ordered[-1]}
        for index, point in labels.items():
            anchor = "start" if index == 0 and len(ordered) > 1 else "end"
            if len(ordered) == 1:
                anchor = "middle"
            parts.append(
                f'<text class="x-label" x="{_number(xs[index])}" y="{base + 28}" '
                f'text-anchor="{anchor}" fill="{AXIS}">'
                f"{_text(point.at.strftime(date_format))}</text>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  # every text above is escaped


def contribution_bars_svg(
    *,
    bars: Sequence[Bar],
    title: str,
    desc: str,
    chart_id: str,
    no_data: str,
) -> SafeString:
    """Horizontal bars, one per indicator: the light track is the most the
    indicator could give (its weight's share of 100 points), the dark bar
    (``class="mark"``) what it gave. An indicator without data has no bar and
    says ``no_data``."""
    width, label_width, right, row, top = 620, 240, 110, 30, 8
    height = top + max(len(bars), 1) * row + 8
    scale_max = max((b.maximum for b in bars), default=Decimal(0))
    plot = width - label_width - right
    parts = [
        _open(chart_id=chart_id, width=width, height=height, title=title, desc=desc)
    ]

    def length(value: Decimal) -> float:
        if scale_max <= 0:
            return 0.0
        return float(value / scale_max) * plot

    for index, bar in enumerate(bars):
        y = top + index * row
        label = bar.label if len(bar.label) <= 28 else bar.label[:27] + "…"
        parts.append(
            f'<g class="bar-row"><text x="{label_width - 8}" y="{y + 17}" '
            f'text-anchor="end">{_text(label)}</text>'
            f'<rect class="track" x="{label_width}" y="{y + 4}" '
            f'width="{_number(length(bar.maximum))}" height="18" '
            f'fill="{TRACK_FILL}" stroke="{TRACK_LINE}" stroke-width="1"/>'
        )
        if bar.contribution is None:
            parts.append(
                f'<text x="{label_width + 6}" y="{y + 17}" fill="{AXIS}">'
                f"{_text(no_data)}</text>"
            )
        else:
            end = label_width + length(bar.contribution)
            parts.append(
                f'<rect class="mark" x="{label_width}" y="{y + 4}" '
                f'width="{_number(length(bar.contribution))}" height="18" '
                f'fill="{MARK}"><title>{_text(bar.label)}: {bar.contribution} / '
                f"{bar.maximum}</title></rect>"
                f'<text x="{_number(max(end, label_width + length(bar.maximum)) + 6)}" '
                f'y="{y + 17}">{bar.contribution} / {bar.maximum}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  # every text above is escaped
