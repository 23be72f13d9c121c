"""The credit profile's SVG charts: well-formed, accessible, one mark per data
point, drawn to scale, escaped, and in colours that meet WCAG AA."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from xml.etree import ElementTree

import pytest

from ratings import charts
from ratings.charts import Bar, GradePoint, contribution_bars_svg, grade_history_svg

SVG = "{http://www.w3.org/2000/svg}"
SCALE = ["AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D"]
START = datetime(2024, 1, 15, tzinfo=UTC)


def _parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # noqa: S314  # our own output


def _marks(root: ElementTree.Element) -> list[ElementTree.Element]:
    return [e for e in root.iter() if e.get("class") == "mark"]


def _history(points: list[GradePoint], scale: list[str] = SCALE) -> str:
    return grade_history_svg(
        points=points,
        scale=scale,
        title="Grade history",
        desc="Grades over time.",
        chart_id="history",
    )


def _point(days: int, grade: str) -> GradePoint:
    return GradePoint(
        at=START + timedelta(days=days), grade=grade, label=f"{grade} ({days})"
    )


def test_grade_history_is_an_accessible_image() -> None:
    # when
    root = _parse(_history([_point(0, "BBB"), _point(200, "A")]))
    # then
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "history-title history-desc"
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None
    assert desc is not None
    assert (title.get("id"), title.text) == ("history-title", "Grade history")
    assert (desc.get("id"), desc.text) == ("history-desc", "Grades over time.")


def test_grade_history_has_one_mark_per_point_in_time_and_scale_order() -> None:
    # given: out of order on purpose
    points = [_point(400, "AA"), _point(0, "B"), _point(100, "BBB"), _point(300, "D")]
    # when
    root = _parse(_history(points))
    marks = _marks(root)
    # then
    assert len(marks) == 4
    xs = [float(str(m.get("cx"))) for m in marks]
    ys = [float(str(m.get("cy"))) for m in marks]
    assert xs == sorted(xs)
    # time is to scale: 100 days after the first is a quarter of 400
    assert xs[1] - xs[0] == pytest.approx((xs[3] - xs[0]) / 4, abs=0.2)
    # B, BBB, D, AA in time order; the y axis lists the scale best first
    assert ys[1] < ys[0] < ys[2]
    assert ys[3] < ys[1]
    labels = [t.text for t in root.iter(f"{SVG}text")][: len(SCALE)]
    assert labels == SCALE
    # the step line runs through every point
    path = next(e for e in root.iter(f"{SVG}path") if e.get("class") == "step-line")
    assert str(path.get("d")).count("V") == 3


def test_grade_history_puts_a_grade_off_the_scale_at_the_bottom() -> None:
    root = _parse(_history([_point(0, "NR-P"), _point(10, "A")], scale=["A", "B"]))
    labels = [t.text for t in root.iter(f"{SVG}text")][:3]
    assert labels == ["A", "B", "NR-P"]
    ys = [float(str(m.get("cy"))) for m in _marks(root)]
    assert ys[0] > ys[1]


def test_grade_history_with_one_point_or_one_instant() -> None:
    single = _marks(_parse(_history([_point(0, "A")])))
    assert len(single) == 1
    same_time = _marks(_parse(_history([_point(0, "A"), _point(0, "B")])))
    assert len(same_time) == 2
    assert same_time[0].get("cx") != same_time[1].get("cx")
    empty = _parse(_history([]))
    assert _marks(empty) == []


def test_chart_text_is_escaped() -> None:
    svg = grade_history_svg(
        points=[GradePoint(at=START, grade="<A>", label='"x" & <script>')],
        scale=["<A>"],
        title="</title><script>alert(1)</script>",
        desc="a & b",
        chart_id='x" onload="alert(1)',
    )
    root = _parse(svg)  # still well-formed
    assert "<script>" not in svg
    assert root.find(f"{SVG}title").text == "</title><script>alert(1)</script>"  # type: ignore[union-attr]
    assert root.get("onload") is None


def _bars() -> list[Bar]:
    return [
        Bar(label="Findings", contribution=Decimal("40.00"), maximum=Decimal("40.00")),
        Bar(label="Reviews", contribution=Decimal("21.85"), maximum=Decimal("35.00")),
        Bar(label="Disclosure", contribution=None, maximum=Decimal("0.00")),
        Bar(label="Safety", contribution=Decimal("0.00"), maximum=Decimal("25.00")),
    ]


def test_contribution_bars_have_one_mark_per_indicator_with_data() -> None:
    # when
    svg = contribution_bars_svg(
        bars=_bars(),
        title="Breakdown",
        desc="Contributions against weights.",
        chart_id="breakdown",
        no_data="no data",
    )
    root = _parse(svg)
    # then
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "breakdown-title breakdown-desc"
    marks = _marks(root)
    assert len(marks) == 3
    tracks = [e for e in root.iter(f"{SVG}rect") if e.get("class") == "track"]
    assert len(tracks) == 4
    # drawn to scale: the full findings bar is as long as its track, the reviews
    # bar 21.85 / 40 of the longest track
    widths = [float(str(m.get("width"))) for m in marks]
    longest = float(str(tracks[0].get("width")))
    assert widths[0] == pytest.approx(longest)
    assert widths[1] == pytest.approx(longest * 21.85 / 40, abs=0.1)
    assert widths[2] == 0
    assert "no data" in svg


def test_contribution_bars_without_weight_draw_nothing_wrong() -> None:
    root = _parse(
        contribution_bars_svg(
            bars=[Bar(label="X", contribution=None, maximum=Decimal(0))],
            title="t",
            desc="d",
            chart_id="c",
            no_data="no data",
        )
    )
    assert _marks(root) == []


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("colour", [charts.TEXT, charts.MARK, charts.AXIS])
def test_text_and_mark_colours_meet_wcag_aa_on_white(colour: str) -> None:
    assert _contrast(colour, "#ffffff") >= 4.5


def test_bar_outline_meets_the_non_text_contrast() -> None:
    assert _contrast(charts.TRACK_LINE, charts.TRACK_FILL) >= 3
    assert _contrast(charts.MARK, charts.TRACK_FILL) >= 3
