"""The run report's charts: where each mark goes, as data (:class:`Chart`), drawn by ``templates/charts.html.j2``.

Geometry (where each bar, label and axis goes) is computed here; the template turns the marks into inline SVG
(no script, no stylesheet or font from the network), escaping every text and attribute.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

PALETTE = ("#4f6bed", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#0ea5e9", "#64748b")
EN_DASH = "\N{EN DASH}"
CHART_WIDTH = 560
NOTHING_TO_SHOW = "nothing to show"
EMPTY_HEIGHT = 60
BAR_HEIGHT, BAR_GAP = 22, 8  # horizontal bars
TOP_WITH_LEGEND, TOP_PLAIN = 28, 6
LABEL_MAX_WIDTH, VALUE_ROOM = 220, 70
MIN_BAR_WIDTH = 1.5
COLUMN_MARGINS = (12, 12, 22, 34)  # vertical columns: left, right, top, bottom
MAX_COLUMN_WIDTH = 48.0
MIN_COLUMN_HEIGHT, ZERO_COLUMN_HEIGHT = 2.0, 1.5
MAX_VALUE_LABELS = 14  # more columns than this: no value above each column
MAX_CATEGORY_LABELS = 10  # at most about this many category labels below the columns


@dataclass(frozen=True)
class Mark:
    """One SVG element: its tag, its attributes in order, its text and its tooltip (``<title>``)."""

    tag: str
    attrs: tuple[tuple[str, Any], ...]
    text: str = ""
    tip: str = ""


@dataclass(frozen=True)
class Chart:
    """A chart's canvas and its marks; ``label`` names an empty chart for screen readers."""

    width: int
    height: int
    marks: tuple[Mark, ...]
    label: str = ""


def num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _px(value: float) -> str:
    return f"{value:.1f}"


def text_mark(css: str, x: Any, y: Any, text: str, anchor: str | None = None) -> Mark:
    anchored = (("text-anchor", anchor),) if anchor else ()
    return Mark("text", (("class", css), ("x", x), ("y", y), *anchored), text=text)


def empty_chart(message: str, width: int = CHART_WIDTH) -> Chart:
    return Chart(width, EMPTY_HEIGHT, (text_mark("empty", width / 2, 34, message, "middle"),), label=message)


# ---- horizontal bars ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class HBarGeometry:
    """Where the rows of a horizontal bar chart go."""

    label_w: int
    top: int
    height: int
    plot_w: int
    peak: float

    def row_y(self, row: int) -> int:
        return self.top + row * (BAR_HEIGHT + BAR_GAP)


def hbar_geometry(rows: list[tuple[str, list[float]]], series: list[str], width: int) -> HBarGeometry:
    label_w = min(LABEL_MAX_WIDTH, 16 + 7 * max(len(label) for label, _ in rows))
    top = TOP_WITH_LEGEND if len(series) > 1 else TOP_PLAIN
    return HBarGeometry(
        label_w=label_w,
        top=top,
        height=top + len(rows) * (BAR_HEIGHT + BAR_GAP) + 4,
        plot_w=width - label_w - VALUE_ROOM,
        peak=max(sum(v) for _, v in rows) or 1,
    )


def legend_positions(series: list[str], start: int) -> list[int]:
    """The x of each series' key in the legend, left to right."""
    positions, x = [], start
    for name in series:
        positions.append(x)
        x += 30 + 8 * len(name)
    return positions


def bar_segments(values: list[float], geometry: HBarGeometry) -> tuple[list[tuple[int, float, float]], float]:
    """(series index, x, width) of each stacked segment drawn (positive values only), and where the bar ends."""
    segments, x = [], float(geometry.label_w)
    for i, value in enumerate(values):
        if value <= 0:
            continue
        w = max(MIN_BAR_WIDTH, value / geometry.peak * geometry.plot_w)
        segments.append((i, x, w))
        x += w
    return segments, x


def _legend(series: list[str], label_w: int) -> list[Mark]:
    if len(series) <= 1:
        return []
    marks = []
    for i, (name, x) in enumerate(zip(series, legend_positions(series, label_w), strict=True)):
        key = (("class", "key"), ("x", x), ("y", 6), ("width", 12), ("height", 12), ("rx", 2))
        marks += [Mark("rect", (*key, ("fill", PALETTE[i]))), text_mark("legend", x + 17, 16, name)]
    return marks


@dataclass(frozen=True)
class BarText:
    """The words of a horizontal bar chart: series names, and how values are written."""

    series: list[str]
    unit: str = ""
    digits: int | None = None

    def tip(self, label: str, index: int, value: float) -> str:
        name = f"{label} · {self.series[index]}" if len(self.series) > 1 else label
        return f"{name}: {num(value)}{self.unit}"

    def total(self, value: float) -> str:
        return (num(value) if self.digits is None else f"{value:,.{self.digits}f}") + self.unit


def _hbar_row(row: int, label: str, values: list[float], geometry: HBarGeometry, text: BarText) -> list[Mark]:
    y = geometry.row_y(row)
    text_y = y + BAR_HEIGHT / 2 + 4
    segments, end = bar_segments(values, geometry)
    bars = []
    for i, x, w in segments:
        box = (("x", _px(x)), ("y", y), ("width", _px(w)), ("height", BAR_HEIGHT), ("rx", 3))
        fill = ("fill", PALETTE[i % len(PALETTE)])
        bars.append(Mark("rect", (("class", "bar"), *box, fill), tip=text.tip(label, i, values[i])))
    return [
        text_mark("label", geometry.label_w - 8, text_y, label, "end"),
        *bars,
        text_mark("value", _px(end + 6), text_y, text.total(sum(values))),
    ]


def hbar_chart(
    rows: list[tuple[str, list[float]]],
    series: list[str],
    *,
    unit: str = "",
    digits: int | None = None,
    width: int = CHART_WIDTH,
) -> Chart:
    """Horizontal bars, stacked when there is more than one series; a legend above for several series."""
    if not rows or not any(sum(v) for _, v in rows):
        return empty_chart(NOTHING_TO_SHOW, width)
    geometry, text = hbar_geometry(rows, series, width), BarText(series, unit, digits)
    marks = _legend(series, geometry.label_w)
    for row, (label, values) in enumerate(rows):
        marks += _hbar_row(row, label, values, geometry, text)
    return Chart(width, geometry.height, tuple(marks))


# ---- vertical columns ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ColumnGeometry:
    """Where the columns of a column chart go."""

    width: int
    plot_h: int
    base_y: int
    peak: float
    slot: float
    bar_w: float
    every: int  # a category label under every n-th column
    values_shown: bool

    def center(self, index: int) -> float:
        return COLUMN_MARGINS[0] + self.slot * index + self.slot / 2

    def bar_height(self, value: float) -> float:
        """A positive value is at least :data:`MIN_COLUMN_HEIGHT` tall; zero or less has no height."""
        return max(value / self.peak * self.plot_h, MIN_COLUMN_HEIGHT) if value > 0 else 0


def column_geometry(columns: list[tuple[str, float]], width: int, height: int) -> ColumnGeometry:
    left, right, top, bottom = COLUMN_MARGINS
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / len(columns)
    return ColumnGeometry(
        width=width,
        plot_h=plot_h,
        base_y=top + plot_h,
        peak=max(v for _, v in columns) or 1,
        slot=slot,
        bar_w=min(MAX_COLUMN_WIDTH, slot * 0.7),
        every=max(1, round(len(columns) / MAX_CATEGORY_LABELS)),
        values_shown=len(columns) <= MAX_VALUE_LABELS,
    )


@dataclass(frozen=True)
class ColumnStyle:
    color: str = PALETTE[0]
    unit: str = ""
    money: bool = False

    def text(self, value: float) -> str:
        return f"${value:,.4f}" if self.money else f"{num(value)}{self.unit}"


PLAIN_COLUMNS = ColumnStyle()


def _column_bar(cx: float, h: float, g: ColumnGeometry, color: str, tip: str) -> Mark:
    x = ("x", _px(cx - g.bar_w / 2))
    if h > 0:
        box = (x, ("y", _px(g.base_y - h)), ("width", _px(g.bar_w)), ("height", _px(h)), ("rx", 3))
        return Mark("rect", (("class", "bar"), *box, ("fill", color)), tip=tip)
    # a zero is drawn as a hairline so the column still reads as "measured, none"
    hairline = (
        x,
        ("y", _px(g.base_y - ZERO_COLUMN_HEIGHT)),
        ("width", _px(g.bar_w)),
        ("height", ZERO_COLUMN_HEIGHT),
    )
    return Mark("rect", (("class", "bar zero"), *hairline, ("fill", color), ("opacity", 0.4)), tip=tip)


def _column(index: int, label: str, value: float, g: ColumnGeometry, style: ColumnStyle) -> list[Mark]:
    cx, h, text = g.center(index), g.bar_height(value), style.text(value)
    marks = [_column_bar(cx, h, g, style.color, f"{label}: {text}")]
    if g.values_shown:
        marks.append(text_mark("value", _px(cx), _px(g.base_y - h - 6), text, "middle"))
    if index % g.every == 0:
        marks.append(text_mark("label", _px(cx), g.base_y + 18, label, "middle"))
    return marks


def _column_axis(g: ColumnGeometry, any_positive: bool) -> list[Mark]:
    left, right, top, _ = COLUMN_MARGINS
    axis = Mark(
        "line", (("class", "axis"), ("x1", left), ("y1", g.base_y), ("x2", g.width - right), ("y2", g.base_y))
    )
    if any_positive:
        return [axis]
    return [axis, text_mark("none", g.width / 2, top + g.plot_h / 2, "none in these runs", "middle")]


def column_chart(
    columns: list[tuple[str, float]],
    style: ColumnStyle = PLAIN_COLUMNS,
    *,
    width: int = CHART_WIDTH,
    height: int = 200,
) -> Chart:
    """Vertical columns with a baseline, value labels and category labels below."""
    if not columns:
        return empty_chart(NOTHING_TO_SHOW, width)
    g = column_geometry(columns, width, height)
    marks = _column_axis(g, any(v > 0 for _, v in columns))
    for i, (label, value) in enumerate(columns):
        marks += _column(i, label, value, g, style)
    return Chart(width, height, tuple(marks))


def score_histogram(scores: list[float]) -> Chart:
    """Titles per score band 1-2, 2-3, ..., 9-10 (10 falls in the last band)."""
    if not scores:
        return empty_chart("no published scores yet")
    bands = Counter(min(9, max(1, int(s))) for s in scores)
    columns = [(f"{b}{EN_DASH}{b + 1}", float(bands.get(b, 0))) for b in range(1, 10)]
    return column_chart(columns, ColumnStyle(color=PALETTE[4]))
