"""The run report: one static, offline HTML page per run, ``<quality.report_dir>/run-<run_id>.html``.

Everything on it is read back from the warehouse by run id (``ops.pipeline_runs`` for the steps and the
history, the mart, the side table and the quarantine tables), so a failed run gets its report too, as long
as the warehouse answers, and the DAG can write it from another process. Charts are inline SVG drawn here
(no script, no stylesheet or font from the network). :func:`publish_report` uploads the page to S3 in
staging/prod and returns its key.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from core import raw_spec
from core.common import first_line
from core.config import ConfigError, Settings
from core.dbt_relations import relation
from core.files import write_text_atomic
from core.warehouse import OPS, RAW_ENRICHMENT, Warehouse
from enrich.inputs import parse_genres
from trending_now import evaluation

MART = str(relation("movies_tv_shows_enriched"))
AVAILABILITY = str(relation("title_availability"))
QUARANTINE_TABLES = tuple(
    (t.schema, t.name) for t in (raw_spec.JUSTWATCH_QUARANTINE, raw_spec.REVIEWS_QUARANTINE)
)
PALETTE = ("#4f6bed", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#0ea5e9", "#64748b")


# ---- what the page shows -----------------------------------------------------------------------------
@dataclass
class ReportData:
    run_id: str
    as_of: date | None = None
    target: str = ""
    started_at: datetime | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    platforms: dict[str, Counter[str]] = field(default_factory=dict)  # platform -> content type -> titles
    scores: list[float] = field(default_factory=list)
    published: int = 0  # rows of the mart
    enrichments: dict[str, int] = field(default_factory=dict)  # new / changed / cached / failed
    daily: list[dict[str, Any]] = field(default_factory=list)  # day, runs, llm_calls, cost_usd
    quarantine: list[dict[str, Any]] = field(default_factory=list)  # source, reason, n
    sources: dict[str, dict[str, int]] = field(default_factory=dict)  # review source -> outcome -> n
    quality: list[dict[str, Any]] = field(default_factory=list)  # this run's rows of ops.enrichment_evals
    countries: dict[str, dict[str, int]] = field(
        default_factory=dict
    )  # country -> listed (this run) / published
    problems: list[str] = field(default_factory=list)  # parts of the page that could not be read

    @property
    def failed_step(self) -> dict[str, Any] | None:
        return next((s for s in self.steps if s["status"] != "ok"), None)

    def step(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.steps if s["step"] == name), None)


def _naive_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def collect(warehouse: Warehouse, run_id: str, history_runs: int = 30) -> ReportData:
    """Read everything the page shows for ``run_id``; a part that cannot be read is named in ``problems``."""
    data = ReportData(run_id=run_id, target=warehouse.target)
    if not warehouse.table_exists(OPS, "pipeline_runs"):
        data.problems.append("ops.pipeline_runs does not exist yet")
        return data
    data.steps = warehouse.fetch_all(
        f"select * from {OPS}.pipeline_runs where run_id = ? order by started_at",  # nosec B608  # noqa: S608 - constant identifiers: OPS (core.warehouse)
        [run_id],
    )
    for step in data.steps:
        step["details"] = json.loads(step["details"]) if step.get("details") else {}
    if data.steps:
        data.as_of = data.steps[0]["as_of"]
        data.started_at = _naive_utc(data.steps[0]["started_at"])
    for part in (_mart, _enrichments, _history, _quarantine, _sources, _quality, _countries):
        try:
            part(warehouse, data, history_runs)
        except Exception as exc:  # one unreadable part must not cost the whole page
            data.problems.append(f"{part.__name__.strip('_')}: {first_line(exc, repr(exc))}")
    return data


def _mart(warehouse: Warehouse, data: ReportData, _: int) -> None:
    schema, table = MART.split(".")
    if not warehouse.table_exists(schema, table):
        return
    rows = warehouse.fetch_all(f"select streaming_platforms, content_type, llm_generated_score from {MART}")  # nosec B608  # noqa: S608 - constant identifiers: MART (this module)
    data.published = len(rows)
    for row in rows:
        kind = row["content_type"] or "Unknown"
        for platform in parse_genres(row["streaming_platforms"]) or ["Unknown"]:
            data.platforms.setdefault(platform, Counter())[kind] += 1
        if row["llm_generated_score"] is not None:
            data.scores.append(float(row["llm_generated_score"]))


def _countries(warehouse: Warehouse, data: ReportData, _: int) -> None:
    """Titles per country: listed as new by this run's extract, and published (marts.title_availability).

    The CLI records one extract for every country; a DAG run one per country (the mapped task), in run order."""
    for step in (s for s in data.steps if s["step"] == "extract_releases"):
        details = step.get("details") or {}
        for country, figures in details.get("countries", {}).items():
            data.countries.setdefault(country, {})["listed"] = int(figures.get("titles") or 0)
        for country in details.get("failed_countries", {}):
            data.countries.setdefault(country, {})["listed"] = 0
    schema, table = AVAILABILITY.split(".")
    if warehouse.table_exists(schema, table):
        rows = warehouse.fetch_all(
            f"select country_code, count(*) as n from {AVAILABILITY} group by country_code"  # nosec B608  # noqa: S608 - constant identifiers: AVAILABILITY (this module)
        )
        for row in rows:
            data.countries.setdefault(str(row["country_code"]), {})["published"] = int(row["n"])


def enriched_by_run(rows: list[dict[str, Any]], started: datetime, finished: datetime) -> dict[str, int]:
    """A title whose last ok enrichment falls in the enrich step's window was enriched by this run: for the
    first time (new) or again (changed)."""
    counts = {"new": 0, "changed": 0}
    for row in rows:
        first, last = _naive_utc(row["first_ok"]), _naive_utc(row["last_ok"])
        if last and started <= last <= finished:
            counts["new" if first and first >= started else "changed"] += 1
    return counts


def _enrichments(warehouse: Warehouse, data: ReportData, _: int) -> None:
    step = data.step("enrich_titles")
    if step is None:
        return
    counts = {"new": 0, "changed": 0, "cached": int(step["cache_hits"] or 0), "failed": 0}
    counts["failed"] = int(step["details"].get("failed") or 0)
    started, finished = _naive_utc(step["started_at"]), _naive_utc(step["finished_at"])
    if warehouse.table_exists(RAW_ENRICHMENT, "title_enrichments") and started and finished:
        rows = warehouse.fetch_all(
            f"select id, min(enriched_at) as first_ok, max(enriched_at) as last_ok "  # nosec B608  # noqa: S608 - constant identifiers: RAW_ENRICHMENT (core.warehouse)
            f"from {RAW_ENRICHMENT}.title_enrichments where status = 'ok' group by id"
        )
        counts.update(enriched_by_run(rows, started, finished))
    data.enrichments = counts


def _history(warehouse: Warehouse, data: ReportData, history_runs: int) -> None:
    rows = warehouse.fetch_all(
        f"select run_id, min(started_at) as started_at, sum(llm_calls) as llm_calls, sum(cost_usd) as cost_usd "  # nosec B608  # noqa: S608 - constant identifiers: OPS (core.warehouse); the limit is int()
        f"from {OPS}.pipeline_runs group by run_id order by min(started_at) desc limit {int(history_runs)}"
    )
    days: dict[date, dict[str, Any]] = {}
    for row in rows:
        started = _naive_utc(row["started_at"])
        if started is None:
            continue
        day = days.setdefault(
            started.date(), {"day": started.date(), "runs": 0, "llm_calls": 0, "cost_usd": 0.0}
        )
        day["runs"] += 1
        day["llm_calls"] += int(row["llm_calls"] or 0)
        day["cost_usd"] += float(row["cost_usd"] or 0)
    data.daily = [days[d] for d in sorted(days)]


def _quarantine(warehouse: Warehouse, data: ReportData, _: int) -> None:
    if data.as_of is None:
        return
    for schema, table in QUARANTINE_TABLES:
        if not warehouse.table_exists(schema, table):
            continue
        data.quarantine += warehouse.fetch_all(
            f"select source, reason, count(*) as n from {schema}.{table} where as_of_date = ? "  # nosec B608  # noqa: S608 - constant identifiers: QUARANTINE_TABLES (this module)
            "group by source, reason order by count(*) desc",
            [data.as_of],
        )


def _sources(warehouse: Warehouse, data: ReportData, _: int) -> None:
    step = data.step("extract_reviews")
    for name, stats in ((step or {}).get("details", {}).get("sources") or {}).items():
        data.sources[name] = {k: int(stats.get(k) or 0) for k in ("ok", "no_reviews", "not_found", "error")}


def _quality(warehouse: Warehouse, data: ReportData, _: int) -> None:
    data.quality = evaluation.for_run(warehouse, data.run_id)


# ---- SVG charts --------------------------------------------------------------------------------------
# Geometry (where each mark goes) is computed apart from the SVG text that draws it.
EN_DASH = "\N{EN DASH}"
NO_VALUE = EN_DASH  # shown where a figure is not known
CHART_WIDTH = 560
NOTHING_TO_SHOW = "nothing to show"
BAR_HEIGHT, BAR_GAP = 22, 8  # horizontal bars
TOP_WITH_LEGEND, TOP_PLAIN = 28, 6
LABEL_MAX_WIDTH, VALUE_ROOM = 220, 70
MIN_BAR_WIDTH = 1.5
COLUMN_MARGINS = (12, 12, 22, 34)  # vertical columns: left, right, top, bottom
MAX_COLUMN_WIDTH = 48.0
MIN_COLUMN_HEIGHT, ZERO_COLUMN_HEIGHT = 2.0, 1.5
MAX_VALUE_LABELS = 14  # more columns than this: no value above each column
MAX_CATEGORY_LABELS = 10  # at most about this many category labels below the columns


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _empty(width: int, message: str) -> str:
    return (
        f'<svg class="chart-svg" viewBox="0 0 {width} 60" width="100%" role="img" aria-label="{_e(message)}">'
        f'<text class="empty" x="{width / 2}" y="34" text-anchor="middle">{_e(message)}</text></svg>'
    )


def _svg_open(width: int, height: int) -> str:
    return f'<svg class="chart-svg" viewBox="0 0 {width} {height}" width="100%" role="img">'


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


def _hbar_legend(series: list[str], label_w: int) -> str:
    if len(series) <= 1:
        return ""
    return "".join(
        f'<rect class="key" x="{x}" y="6" width="12" height="12" rx="2" fill="{PALETTE[i]}"/>'
        f'<text class="legend" x="{x + 17}" y="16">{_e(name)}</text>'
        for i, (name, x) in enumerate(zip(series, legend_positions(series, label_w), strict=True))
    )


@dataclass(frozen=True)
class BarText:
    """The words of a horizontal bar chart: series names, and how values are written."""

    series: list[str]
    unit: str = ""
    digits: int | None = None

    def tip(self, label: str, index: int, value: float) -> str:
        name = f"{label} · {self.series[index]}" if len(self.series) > 1 else label
        return f"{name}: {_num(value)}{self.unit}"

    def total(self, value: float) -> str:
        return (_num(value) if self.digits is None else f"{value:,.{self.digits}f}") + self.unit


def _hbar_row(row: int, label: str, values: list[float], geometry: HBarGeometry, text: BarText) -> str:
    y = geometry.row_y(row)
    text_y = y + BAR_HEIGHT / 2 + 4
    segments, end = bar_segments(values, geometry)
    bars = "".join(
        f'<rect class="bar" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR_HEIGHT}" rx="3" '
        f'fill="{PALETTE[i % len(PALETTE)]}"><title>{_e(text.tip(label, i, values[i]))}</title></rect>'
        for i, x, w in segments
    )
    return (
        f'<text class="label" x="{geometry.label_w - 8}" y="{text_y}" text-anchor="end">{_e(label)}</text>'
        f'{bars}<text class="value" x="{end + 6:.1f}" y="{text_y}">{_e(text.total(sum(values)))}</text>'
    )


def hbar_chart(
    rows: list[tuple[str, list[float]]],
    series: list[str],
    *,
    unit: str = "",
    digits: int | None = None,
    width: int = CHART_WIDTH,
) -> str:
    """Horizontal bars, stacked when there is more than one series; a legend above for several series."""
    if not rows or not any(sum(v) for _, v in rows):
        return _empty(width, NOTHING_TO_SHOW)
    geometry, text = hbar_geometry(rows, series, width), BarText(series, unit, digits)
    body = "".join(_hbar_row(row, label, values, geometry, text) for row, (label, values) in enumerate(rows))
    return f"{_svg_open(width, geometry.height)}{_hbar_legend(series, geometry.label_w)}{body}</svg>"


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


def _column_bar(cx: float, h: float, g: ColumnGeometry, color: str, tip: str) -> str:
    if h > 0:
        return (
            f'<rect class="bar" x="{cx - g.bar_w / 2:.1f}" y="{g.base_y - h:.1f}" width="{g.bar_w:.1f}" '
            f'height="{h:.1f}" rx="3" fill="{color}"><title>{tip}</title></rect>'
        )
    # a zero is drawn as a hairline so the column still reads as "measured, none"
    return (
        f'<rect class="bar zero" x="{cx - g.bar_w / 2:.1f}" y="{g.base_y - ZERO_COLUMN_HEIGHT:.1f}" '
        f'width="{g.bar_w:.1f}" height="{ZERO_COLUMN_HEIGHT}" fill="{color}" opacity="0.4"><title>{tip}</title></rect>'
    )


@dataclass(frozen=True)
class ColumnStyle:
    color: str = PALETTE[0]
    unit: str = ""
    money: bool = False

    def text(self, value: float) -> str:
        return f"${value:,.4f}" if self.money else f"{_num(value)}{self.unit}"


PLAIN_COLUMNS = ColumnStyle()


def _column(index: int, label: str, value: float, g: ColumnGeometry, style: ColumnStyle) -> str:
    cx, h, text = g.center(index), g.bar_height(value), style.text(value)
    parts = [_column_bar(cx, h, g, style.color, f"{_e(label)}: {_e(text)}")]
    if g.values_shown:
        parts.append(
            f'<text class="value" x="{cx:.1f}" y="{g.base_y - h - 6:.1f}" text-anchor="middle">{_e(text)}</text>'
        )
    if index % g.every == 0:
        parts.append(
            f'<text class="label" x="{cx:.1f}" y="{g.base_y + 18}" text-anchor="middle">{_e(label)}</text>'
        )
    return "".join(parts)


def _column_axis(g: ColumnGeometry, any_positive: bool) -> str:
    left, right, top, _ = COLUMN_MARGINS
    axis = f'<line class="axis" x1="{left}" y1="{g.base_y}" x2="{g.width - right}" y2="{g.base_y}"/>'
    if any_positive:
        return axis
    return (
        f'{axis}<text class="none" x="{g.width / 2}" y="{top + g.plot_h / 2}" text-anchor="middle">'
        "none in these runs</text>"
    )


def column_chart(
    columns: list[tuple[str, float]],
    style: ColumnStyle = PLAIN_COLUMNS,
    *,
    width: int = CHART_WIDTH,
    height: int = 200,
) -> str:
    """Vertical columns with a baseline, value labels and category labels below."""
    if not columns:
        return _empty(width, NOTHING_TO_SHOW)
    g = column_geometry(columns, width, height)
    body = "".join(_column(i, label, value, g, style) for i, (label, value) in enumerate(columns))
    return f"{_svg_open(width, height)}{_column_axis(g, any(v > 0 for _, v in columns))}{body}</svg>"


def score_histogram(scores: list[float]) -> str:
    """Titles per score band 1-2, 2-3, ..., 9-10 (10 falls in the last band)."""
    if not scores:
        return _empty(CHART_WIDTH, "no published scores yet")
    bands = Counter(min(9, max(1, int(s))) for s in scores)
    columns = [(f"{b}{EN_DASH}{b + 1}", float(bands.get(b, 0))) for b in range(1, 10)]
    return column_chart(columns, ColumnStyle(color=PALETTE[4]))


# ---- the page ----------------------------------------------------------------------------------------
CSS = """
:root { --ink:#1e293b; --muted:#64748b; --line:#e2e8f0; --bg:#f8fafc; --card:#fff; --ok:#059669; --bad:#dc2626; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
       color:var(--ink); background:var(--bg); }
header { padding:28px 40px 20px; background:linear-gradient(120deg,#1e293b,#334155); color:#fff; }
header h1 { margin:0 0 4px; font-size:24px; font-weight:650; letter-spacing:-0.01em; }
header p { margin:0; color:#cbd5e1; }
.chip { display:inline-block; padding:2px 10px; border-radius:999px; font-size:13px; font-weight:600;
        margin-left:10px; vertical-align:3px; }
.chip.ok { background:#d1fae5; color:#065f46; } .chip.failed { background:#fee2e2; color:#991b1b; }
main { padding:24px 40px 40px; max-width:1280px; }
.alert { background:#fef2f2; border:1px solid #fecaca; color:#7f1d1d; padding:12px 16px; border-radius:10px;
         margin-bottom:20px; }
.note { background:#fffbeb; border:1px solid #fde68a; color:#78350f; padding:10px 16px; border-radius:10px;
        margin-bottom:20px; font-size:14px; }
.kpis { display:grid; grid-template-columns:repeat(auto-fit,minmax(128px,1fr)); gap:12px; margin-bottom:20px; }
.kpi { background:var(--card); border:1px solid var(--line); border-radius:12px; padding:12px 16px; }
.kpi b { display:block; font-size:24px; font-weight:650; } .kpi span { color:var(--muted); font-size:13px; }
.grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(520px,1fr)); gap:20px; }
figure.chart { margin:0; background:var(--card); border:1px solid var(--line); border-radius:12px;
               padding:16px 18px 12px; }
figcaption { font-weight:600; margin-bottom:2px; } figcaption small { display:block; font-weight:400;
             color:var(--muted); font-size:13px; margin-bottom:8px; }
svg text { font:12px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif; fill:#334155; }
svg text.value { fill:var(--muted); } svg text.empty, svg text.none { fill:var(--muted); font-size:14px; }
svg .axis { stroke:#cbd5e1; stroke-width:1; }
table { width:100%; border-collapse:collapse; font-size:13.5px; margin-top:6px; }
th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:600; } td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
tr.failed td { color:var(--bad); }
footer { color:var(--muted); font-size:12.5px; padding:0 40px 30px; }
"""


def _kpi(value: Any, label: str) -> str:
    return f'<div class="kpi"><b>{_e(value)}</b><span>{_e(label)}</span></div>'


def _figure(key: str, title: str, note: str, body: str) -> str:
    return (
        f'<figure class="chart" data-chart="{key}"><figcaption>{_e(title)}<small>{_e(note)}</small></figcaption>'
        f"{body}</figure>"
    )


def _total(steps: list[dict[str, Any]], column: str, kind: type = float) -> Any:
    return sum(kind(s[column] or 0) for s in steps)


def _rows_out(step: dict[str, Any] | None) -> Any:
    return step["rows_out"] if step else NO_VALUE


def render_kpis(data: ReportData) -> str:
    enriched = data.enrichments.get("new", 0) + data.enrichments.get("changed", 0)
    return "".join(
        [
            _kpi(_rows_out(data.step("extract_releases")), "titles extracted"),
            _kpi(_rows_out(data.step("extract_reviews")), "reviews"),
            _kpi(data.published, "titles published"),
            _kpi(enriched, "enriched this run"),
            _kpi(_total(data.steps, "llm_calls", int), "LLM calls"),
            _kpi(f"${_total(data.steps, 'cost_usd'):.4f}", "LLM cost"),
            _kpi(_total(data.steps, "quarantined", int), "quarantined"),
            _kpi(f"{_total(data.steps, 'duration_s'):.1f}s", "run time"),
        ]
    )


# ---- one figure per chart, in page order ---------------------------------------------------------------
def platforms_figure(data: ReportData) -> str:
    types = sorted({t for c in data.platforms.values() for t in c})
    platform_rows = sorted(data.platforms.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    return _figure(
        "platforms",
        "Titles by platform and type",
        "published rows of marts.movies_tv_shows_enriched; a title on several platforms counts on each",
        hbar_chart([(p, [float(c.get(t, 0)) for t in types]) for p, c in platform_rows], types),
    )


def countries_figure(data: ReportData) -> str:
    rows = sorted(data.countries.items(), key=lambda kv: (-kv[1].get("listed", 0), kv[0]))
    series = ["listed this run", "published"]
    return _figure(
        "countries",
        "Titles per country",
        "titles JustWatch listed as new in the window, per country of the run (extract_releases), and published "
        "titles available there (marts.title_availability); a title listed in several countries counts in each",
        hbar_chart([(c, [float(d.get("listed", 0)), float(d.get("published", 0))]) for c, d in rows], series),
    )


def scores_figure(data: ReportData) -> str:
    median = f", median {sorted(data.scores)[len(data.scores) // 2]:.1f}" if data.scores else ""
    return _figure(
        "scores",
        "Score distribution",
        f"llm_generated_score of {len(data.scores)} published titles{median}",
        score_histogram(data.scores),
    )


def enrichments_figure(data: ReportData) -> str:
    kinds = ("new", "changed", "cached", "failed") if data.enrichments else ()
    return _figure(
        "enrichments",
        "Enrichments this run",
        "new titles, titles re-enriched because their sources or the prompt changed, cached, failed",
        hbar_chart([(k.capitalize(), [float(data.enrichments.get(k, 0))]) for k in kinds], ["titles"]),
    )


def steps_figure(data: ReportData) -> str:
    failed = data.failed_step
    return _figure(
        "steps",
        "Step times",
        "seconds per step of this run" + (f"; stopped at {failed['step']}" if failed else ""),
        hbar_chart(
            [(s["step"], [float(s["duration_s"] or 0)]) for s in data.steps], ["seconds"], unit=" s", digits=1
        ),
    )


def llm_calls_figure(data: ReportData) -> str:
    return _figure(
        "llm-calls",
        "LLM calls per day",
        f"over the last {sum(d['runs'] for d in data.daily)} runs (ops.pipeline_runs), by run start date",
        column_chart([(d["day"].strftime("%b %d"), float(d["llm_calls"])) for d in data.daily]),
    )


def llm_cost_figure(data: ReportData) -> str:
    return _figure(
        "llm-cost",
        "LLM cost per day",
        "USD, same runs",
        column_chart(
            [(d["day"].strftime("%b %d"), d["cost_usd"]) for d in data.daily],
            ColumnStyle(color=PALETTE[1], money=True),
        ),
    )


SOURCE_OUTCOMES = ("ok", "no_reviews", "not_found", "error")


def sources_figure(data: ReportData) -> str:
    return _figure(
        "sources",
        "Review sources",
        "titles per outcome and source in extract_reviews",
        hbar_chart(
            [(name, [float(s[k]) for k in SOURCE_OUTCOMES]) for name, s in sorted(data.sources.items())],
            ["reviews found", "no reviews", "not found", "error"],
        ),
    )


CHART_FIGURES = (
    countries_figure,
    platforms_figure,
    scores_figure,
    enrichments_figure,
    steps_figure,
    llm_calls_figure,
    llm_cost_figure,
)


# ---- the tables ------------------------------------------------------------------------------------------
MAX_QUARANTINE_ROWS, MAX_REASON_CHARS = 20, 200


def quarantine_rows(data: ReportData) -> str:
    rows = "".join(
        f"<tr><td>{_e(q['source'])}</td><td>{_e((q['reason'] or '')[:MAX_REASON_CHARS])}</td>"
        f"<td class='num'>{q['n']}</td></tr>"
        for q in data.quarantine[:MAX_QUARANTINE_ROWS]
    )
    return rows or "<tr><td colspan='3'>nothing quarantined for this day</td></tr>"


def step_row(s: dict[str, Any]) -> str:
    return (
        f"<tr class='{'failed' if s['status'] != 'ok' else ''}'><td>{_e(s['step'])}</td><td>{_e(s['status'])}</td>"
        f"<td class='num'>{float(s['duration_s'] or 0):.1f}s</td><td class='num'>{s['rows_in']}</td>"
        f"<td class='num'>{s['rows_out']}</td><td class='num'>{s['quarantined']}</td>"
        f"<td>{_e(s['error'] or '')}</td></tr>"
    )


def _pct(value: Any) -> str:
    return NO_VALUE if value is None else f"{float(value) * 100:.0f}%"


def _dec(value: Any, spec: str = ".2f") -> str:
    return NO_VALUE if value is None else format(float(value), spec)


def quality_row(q: dict[str, Any]) -> str:
    return (
        f"<tr><td>{_e(q['provider'])}/{_e(q['model'])} · {_e(q['prompt_version'])}</td>"
        f"<td class='num'>{q['titles']}</td><td class='num'>{_pct(q['primary_genre_in_source_rate'])}</td>"
        f"<td class='num'>{_pct(q['secondary_genres_in_vocabulary_rate'])}</td>"
        f"<td class='num'>{_pct(q['vibe_tags_in_vocabulary_rate'])}</td>"
        f"<td class='num'>{_dec(q['score_mae'])} / {_dec(q['score_spearman'])} ({q['score_titles']})</td>"
        f"<td class='num'>{_pct(q['summary_grounding_rate'])}</td>"
        f"<td class='num'>{q['failures']}</td><td class='num'>{q['validation_retries']}</td>"
        f"<td class='num'>${_dec(q['cost_per_title_usd'], '.5f')}</td></tr>"
    )


def quality_table(data: ReportData) -> str:
    rows = "".join(quality_row(q) for q in data.quality) or (
        "<tr><td colspan='10'>not evaluated: the run did not complete enrich_titles</td></tr>"
    )
    return (
        '<div style="margin-top:20px"><figure class="chart" data-table="quality"><figcaption>Enrichment quality'
        "<small>trending-now eval on the current enrichment inputs after this run, stored in ops.enrichment_evals "
        "(docs/evaluation.md)</small></figcaption><table><tr><th>provider/model · prompt</th><th class='num'>titles</th>"
        "<th class='num'>genre in sources</th><th class='num'>2nd genres in vocab.</th>"
        "<th class='num'>tags in vocab.</th><th class='num'>score MAE / Spearman (titles)</th>"
        "<th class='num'>summary grounded</th><th class='num'>failures</th><th class='num'>validation retries</th>"
        f"<th class='num'>cost/title</th></tr>{rows}</table></figure></div>"
    )


def render_tables(data: ReportData) -> str:
    """Review sources next to the quarantine (both are about what the sources gave), then quality and steps."""
    return (
        '<div class="grid" style="margin-top:20px">'
        f"{sources_figure(data)}"
        '<figure class="chart" data-table="quarantine"><figcaption>Quarantine<small>records set aside with a '
        "reason (raw_*.quarantine, this day)</small></figcaption><table><tr><th>source</th><th>reason</th>"
        f"<th class='num'>records</th></tr>{quarantine_rows(data)}</table></figure></div>"
        f"{quality_table(data)}"
        '<div style="margin-top:20px"><figure class="chart" data-table="steps"><figcaption>Steps<small>'
        "ops.pipeline_runs for this run</small></figcaption><table><tr><th>step</th><th>status</th>"
        "<th class='num'>time</th><th class='num'>in</th><th class='num'>out</th><th class='num'>quar.</th>"
        f"<th>error</th></tr>{''.join(step_row(s) for s in data.steps)}</table></figure></div>"
    )


# ---- the page ----------------------------------------------------------------------------------------------
def run_status(data: ReportData) -> str:
    if data.failed_step:
        return "failed"
    return "ok" if data.steps else "unknown"


def render_alert(data: ReportData) -> str:
    failed = data.failed_step
    if failed and (failed.get("details") or {}).get("failed_countries"):
        names = ", ".join(failed["details"]["failed_countries"])
        return (
            f'<div class="alert"><b>The run failed: {_e(names)} could not be extracted.</b> '
            f"{_e(failed['error'] or '')}<br>The other countries went on and were published.</div>"
        )
    if failed:
        return (
            f'<div class="alert"><b>The run failed at {_e(failed["step"])}.</b> {_e(failed["error"] or "")}<br>'
            "Steps after it did not run; the figures below are what the warehouse held at that point.</div>"
        )
    if not data.steps:
        return '<div class="alert">No step of this run is recorded in ops.pipeline_runs.</div>'
    return ""


def render_notes(data: ReportData) -> str:
    return "".join(f'<div class="note">Could not read {_e(p)}</div>' for p in data.problems)


def render(data: ReportData) -> str:
    status = run_status(data)
    started = data.started_at.strftime("%Y-%m-%d %H:%M UTC") if data.started_at else NO_VALUE
    charts = "".join(figure(data) for figure in CHART_FIGURES)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Trending Now · run {_e(data.run_id)}</title><style>{CSS}</style></head>
<body><header><h1>Trending Now · run {_e(data.run_id)}<span class="chip {status}">{status}</span></h1>
<p>as of {_e(data.as_of or NO_VALUE)} · started {_e(started)} · warehouse {_e(data.target)}</p></header>
<main>{render_alert(data)}{render_notes(data)}<section class="kpis">{render_kpis(data)}</section>
<div class="grid">{charts}</div>{render_tables(data)}</main>
<footer>Written by trending-now from ops.pipeline_runs, marts.movies_tv_shows_enriched and
raw_enrichment.title_enrichments. Static page: no script, nothing loaded from the network.</footer>
</body></html>
"""


# ---- writing and publishing --------------------------------------------------------------------------
def report_path(settings: Settings, run_id: str) -> Path:
    return settings.path("quality.report_dir") / f"run-{run_id}.html"


def evaluate_enrichment(settings: Settings, run_id: str) -> None:
    """When the run's enrich step succeeded, score the enrichment (``ops.enrichment_evals``, with the run id)."""
    warehouse = Warehouse(settings)
    if not warehouse.table_exists(OPS, "pipeline_runs"):
        return
    rows = warehouse.fetch_all(
        f"select as_of from {OPS}.pipeline_runs where run_id = ? and step = 'enrich_titles' and status = 'ok'",  # nosec B608  # noqa: S608 - constant identifiers: OPS (core.warehouse)
        [run_id],
    )
    if rows:
        evaluation.evaluate_run(settings, run_id, rows[0]["as_of"])


def write_report(settings: Settings, run_id: str) -> Path:
    """Evaluate the enrichment, then collect, render and write the report of ``run_id`` (atomically)."""
    problems = []
    try:
        evaluate_enrichment(settings, run_id)
    except Exception as exc:  # the page says so; the rest of it is still worth having
        problems.append(f"the enrichment evaluation: {first_line(exc, repr(exc))}")
    data = collect(Warehouse(settings), run_id, int(settings.require("report.history_runs")))
    data.problems += problems
    path = report_path(settings, run_id)
    write_text_atomic(path, render(data))
    return path


def s3_location(settings: Settings) -> tuple[str, str] | None:
    """(bucket, key prefix) reports go to: ``report.s3_url``, else the ``dvc.s3_url`` bucket under ``reports/``
    when the DVC remote is S3; None when reports stay local."""
    url = settings.get("report.s3_url")
    if not url and str(settings.require("dvc.remote")) == "s3" and settings.get("dvc.s3_url"):
        url = f"s3://{str(settings.get('dvc.s3_url'))[5:].split('/', 1)[0]}/reports"
    if not url:
        return None
    if not str(url).startswith("s3://"):
        raise ConfigError(f"report.s3_url={url!r} must start with s3://")
    bucket, _, prefix = str(url)[5:].partition("/")
    return bucket, prefix.strip("/")


def report_key(prefix: str, as_of: date | str | None, run_id: str) -> str:
    return "/".join(p for p in (prefix, str(as_of or "undated"), f"run-{run_id}.html") if p)


def publish_report(settings: Settings, path: Path, run_id: str, as_of: date | str | None) -> str | None:
    """Upload the page to S3 when a location is configured; returns ``s3://bucket/key`` or None (local only)."""
    location = s3_location(settings)
    if location is None:
        return None
    import boto3  # noqa: PLC0415 - boto3 loads in a second; only an S3 upload needs it

    bucket, prefix = location
    key = report_key(prefix, as_of, run_id)
    client = boto3.client(
        "s3",
        region_name=settings.require("aws.region"),
        endpoint_url=settings.get("aws.endpoint_url") or None,
    )
    client.upload_file(
        str(path),
        bucket,
        key,
        ExtraArgs={"ContentType": "text/html; charset=utf-8", "CacheControl": "no-cache"},
    )
    return f"s3://{bucket}/{key}"


def write_and_publish(settings: Settings, run_id: str, as_of: date | str | None) -> tuple[Path, str | None]:
    """What a run (the CLI or the DAG's last task) calls: write the page, upload it when S3 is configured."""
    path = write_report(settings, run_id)
    return path, publish_report(settings, path, run_id, as_of)
