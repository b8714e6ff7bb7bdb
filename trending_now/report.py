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

from core.common import first_line
from core.config import ConfigError, Settings
from core.dbt_relations import relation
from core.warehouse import OPS, RAW_ENRICHMENT, Warehouse
from enrich.inputs import parse_genres

MART = str(relation("movies_tv_shows_enriched"))
QUARANTINE_TABLES = (("raw_justwatch", "quarantine"), ("raw_reviews", "quarantine"))
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
        f"select * from {OPS}.pipeline_runs where run_id = ? order by started_at",  # nosec B608  # constant identifiers: OPS (core.warehouse)
        [run_id],
    )
    for step in data.steps:
        step["details"] = json.loads(step["details"]) if step.get("details") else {}
    if data.steps:
        data.as_of = data.steps[0]["as_of"]
        data.started_at = _naive_utc(data.steps[0]["started_at"])
    for part in (_mart, _enrichments, _history, _quarantine, _sources, _quality):
        try:
            part(warehouse, data, history_runs)
        except Exception as exc:  # one unreadable part must not cost the whole page
            data.problems.append(f"{part.__name__.strip('_')}: {first_line(exc, repr(exc))}")
    return data


def _mart(warehouse: Warehouse, data: ReportData, _: int) -> None:
    schema, table = MART.split(".")
    if not warehouse.table_exists(schema, table):
        return
    rows = warehouse.fetch_all(f"select streaming_platforms, content_type, llm_generated_score from {MART}")  # nosec B608  # constant identifiers: MART (this module)
    data.published = len(rows)
    for row in rows:
        kind = row["content_type"] or "Unknown"
        for platform in parse_genres(row["streaming_platforms"]) or ["Unknown"]:
            data.platforms.setdefault(platform, Counter())[kind] += 1
        if row["llm_generated_score"] is not None:
            data.scores.append(float(row["llm_generated_score"]))


def _enrichments(warehouse: Warehouse, data: ReportData, _: int) -> None:
    step = data.step("enrich_titles")
    if step is None:
        return
    counts = {"new": 0, "changed": 0, "cached": int(step["cache_hits"] or 0), "failed": 0}
    counts["failed"] = int(step["details"].get("failed") or 0)
    started, finished = _naive_utc(step["started_at"]), _naive_utc(step["finished_at"])
    if warehouse.table_exists(RAW_ENRICHMENT, "title_enrichments") and started and finished:
        rows = warehouse.fetch_all(
            f"select id, min(enriched_at) as first_ok, max(enriched_at) as last_ok "  # nosec B608  # constant identifiers: RAW_ENRICHMENT (core.warehouse)
            f"from {RAW_ENRICHMENT}.title_enrichments where status = 'ok' group by id"
        )
        for row in rows:
            first, last = _naive_utc(row["first_ok"]), _naive_utc(row["last_ok"])
            if last and started <= last <= finished:  # enriched by this run: first time, or again
                counts["new" if first and first >= started else "changed"] += 1
    data.enrichments = counts


def _history(warehouse: Warehouse, data: ReportData, history_runs: int) -> None:
    rows = warehouse.fetch_all(
        f"select run_id, min(started_at) as started_at, sum(llm_calls) as llm_calls, sum(cost_usd) as cost_usd "  # nosec B608  # constant identifiers: OPS (core.warehouse); the limit is int()
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
            f"select source, reason, count(*) as n from {schema}.{table} where as_of_date = ? "  # nosec B608  # constant identifiers: QUARANTINE_TABLES (this module)
            "group by source, reason order by count(*) desc",
            [data.as_of],
        )


def _sources(warehouse: Warehouse, data: ReportData, _: int) -> None:
    step = data.step("extract_reviews")
    for name, stats in ((step or {}).get("details", {}).get("sources") or {}).items():
        data.sources[name] = {k: int(stats.get(k) or 0) for k in ("ok", "no_reviews", "not_found", "error")}


def _quality(warehouse: Warehouse, data: ReportData, _: int) -> None:
    from trending_now.evaluation import for_run

    data.quality = for_run(warehouse, data.run_id)


# ---- SVG charts --------------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _empty(width: int, message: str) -> str:
    return (
        f'<svg class="chart-svg" viewBox="0 0 {width} 60" width="100%" role="img" aria-label="{_e(message)}">'
        f'<text class="empty" x="{width / 2}" y="34" text-anchor="middle">{_e(message)}</text></svg>'
    )


def hbar_chart(
    rows: list[tuple[str, list[float]]],
    series: list[str],
    *,
    unit: str = "",
    digits: int | None = None,
    width: int = 560,
) -> str:
    """Horizontal bars, stacked when there is more than one series; a legend above for several series."""
    if not rows or not any(sum(v) for _, v in rows):
        return _empty(width, "nothing to show")
    label_w = min(220, 16 + 7 * max(len(label) for label, _ in rows))

    def fmt(value: float) -> str:
        return (_num(value) if digits is None else f"{value:,.{digits}f}") + unit

    bar_h, gap, top = 22, 8, 28 if len(series) > 1 else 6
    height = top + len(rows) * (bar_h + gap) + 4
    plot_w = width - label_w - 70
    peak = max(sum(v) for _, v in rows) or 1
    parts = [f'<svg class="chart-svg" viewBox="0 0 {width} {height}" width="100%" role="img">']
    if len(series) > 1:
        x = label_w
        for i, name in enumerate(series):
            parts.append(
                f'<rect class="key" x="{x}" y="6" width="12" height="12" rx="2" fill="{PALETTE[i]}"/>'
            )
            parts.append(f'<text class="legend" x="{x + 17}" y="16">{_e(name)}</text>')
            x += 30 + 8 * len(name)
    for row, (label, values) in enumerate(rows):
        y = top + row * (bar_h + gap)
        parts.append(
            f'<text class="label" x="{label_w - 8}" y="{y + bar_h / 2 + 4}" text-anchor="end">{_e(label)}</text>'
        )
        x = float(label_w)
        for i, value in enumerate(values):
            if value <= 0:
                continue
            w = max(1.5, value / peak * plot_w)
            tip = (
                f"{label} · {series[i]}: {_num(value)}{unit}"
                if len(series) > 1
                else f"{label}: {_num(value)}{unit}"
            )
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="3" '
                f'fill="{PALETTE[i % len(PALETTE)]}"><title>{_e(tip)}</title></rect>'
            )
            x += w
        parts.append(
            f'<text class="value" x="{x + 6:.1f}" y="{y + bar_h / 2 + 4}">{_e(fmt(sum(values)))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def column_chart(
    columns: list[tuple[str, float]],
    *,
    color: str = PALETTE[0],
    unit: str = "",
    money: bool = False,
    width: int = 560,
    height: int = 200,
) -> str:
    """Vertical columns with a baseline, value labels and category labels below."""
    if not columns:
        return _empty(width, "nothing to show")
    left, right, top, bottom = 12, 12, 22, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(v for _, v in columns) or 1
    slot = plot_w / len(columns)
    bar_w = min(48.0, slot * 0.7)

    def fmt(v: float) -> str:
        return f"${v:,.4f}" if money else f"{_num(v)}{unit}"

    parts = [f'<svg class="chart-svg" viewBox="0 0 {width} {height}" width="100%" role="img">']
    base_y = top + plot_h
    parts.append(f'<line class="axis" x1="{left}" y1="{base_y}" x2="{width - right}" y2="{base_y}"/>')
    every = max(1, round(len(columns) / 10))
    if not any(v > 0 for _, v in columns):
        parts.append(
            f'<text class="none" x="{width / 2}" y="{top + plot_h / 2}" text-anchor="middle">none in these runs</text>'
        )
    for i, (label, value) in enumerate(columns):
        cx = left + slot * i + slot / 2
        h = value / peak * plot_h if value > 0 else 0
        if value > 0:
            h = max(h, 2.0)
            parts.append(
                f'<rect class="bar" x="{cx - bar_w / 2:.1f}" y="{base_y - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" rx="3" fill="{color}"><title>{_e(label)}: {_e(fmt(value))}</title></rect>'
            )
        else:  # a zero is drawn as a hairline so the column still reads as "measured, none"
            parts.append(
                f'<rect class="bar zero" x="{cx - bar_w / 2:.1f}" y="{base_y - 1.5:.1f}" width="{bar_w:.1f}" '
                f'height="1.5" fill="{color}" opacity="0.4"><title>{_e(label)}: {_e(fmt(value))}</title></rect>'
            )
        if len(columns) <= 14:
            parts.append(
                f'<text class="value" x="{cx:.1f}" y="{base_y - h - 6:.1f}" text-anchor="middle">{_e(fmt(value))}</text>'
            )
        if i % every == 0:
            parts.append(
                f'<text class="label" x="{cx:.1f}" y="{base_y + 18}" text-anchor="middle">{_e(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def score_histogram(scores: list[float]) -> str:
    """Titles per score band 1-2, 2-3, ..., 9-10 (10 falls in the last band)."""
    if not scores:
        return _empty(560, "no published scores yet")
    bands = Counter(min(9, max(1, int(s))) for s in scores)
    columns = [(f"{b}–{b + 1}", float(bands.get(b, 0))) for b in range(1, 10)]
    return column_chart(columns, color=PALETTE[4])


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


def render(data: ReportData) -> str:
    failed = data.failed_step
    status = "failed" if failed else "ok" if data.steps else "unknown"
    total_s = sum(float(s["duration_s"] or 0) for s in data.steps)
    cost = sum(float(s["cost_usd"] or 0) for s in data.steps)
    calls = sum(int(s["llm_calls"] or 0) for s in data.steps)
    quarantined = sum(int(s["quarantined"] or 0) for s in data.steps)
    releases, reviews = data.step("extract_releases"), data.step("extract_reviews")

    kpis = [
        _kpi(releases["rows_out"] if releases else "–", "titles extracted"),
        _kpi(reviews["rows_out"] if reviews else "–", "reviews"),
        _kpi(data.published, "titles published"),
        _kpi(data.enrichments.get("new", 0) + data.enrichments.get("changed", 0), "enriched this run"),
        _kpi(calls, "LLM calls"),
        _kpi(f"${cost:.4f}", "LLM cost"),
        _kpi(quarantined, "quarantined"),
        _kpi(f"{total_s:.1f}s", "run time"),
    ]

    types = sorted({t for c in data.platforms.values() for t in c})
    platform_rows = sorted(data.platforms.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    charts = [
        _figure(
            "platforms",
            "Titles by platform and type",
            "published rows of marts.movies_tv_shows_enriched; a title on several platforms counts on each",
            hbar_chart([(p, [float(c.get(t, 0)) for t in types]) for p, c in platform_rows], types),
        ),
        _figure(
            "scores",
            "Score distribution",
            f"llm_generated_score of {len(data.scores)} published titles"
            + (f", median {sorted(data.scores)[len(data.scores) // 2]:.1f}" if data.scores else ""),
            score_histogram(data.scores),
        ),
        _figure(
            "enrichments",
            "Enrichments this run",
            "new titles, titles re-enriched because their sources or the prompt changed, cached, failed",
            hbar_chart(
                [
                    (k.capitalize(), [float(data.enrichments.get(k, 0))])
                    for k in ("new", "changed", "cached", "failed")
                ]
                if data.enrichments
                else [],
                ["titles"],
            ),
        ),
        _figure(
            "steps",
            "Step times",
            "seconds per step of this run" + (f"; stopped at {failed['step']}" if failed else ""),
            hbar_chart(
                [(s["step"], [float(s["duration_s"] or 0)]) for s in data.steps],
                ["seconds"],
                unit=" s",
                digits=1,
            ),
        ),
        _figure(
            "llm-calls",
            "LLM calls per day",
            f"over the last {sum(d['runs'] for d in data.daily)} runs (ops.pipeline_runs), by run start date",
            column_chart([(d["day"].strftime("%b %d"), float(d["llm_calls"])) for d in data.daily]),
        ),
        _figure(
            "llm-cost",
            "LLM cost per day",
            "USD, same runs",
            column_chart(
                [(d["day"].strftime("%b %d"), d["cost_usd"]) for d in data.daily],
                color=PALETTE[1],
                money=True,
            ),
        ),
        _figure(
            "sources",
            "Review sources",
            "titles per outcome and source in extract_reviews",
            hbar_chart(
                [
                    (name, [float(s[k]) for k in ("ok", "no_reviews", "not_found", "error")])
                    for name, s in sorted(data.sources.items())
                ],
                ["reviews found", "no reviews", "not found", "error"],
            ),
        ),
    ]

    quarantine_rows = (
        "".join(
            f"<tr><td>{_e(q['source'])}</td><td>{_e((q['reason'] or '')[:200])}</td><td class='num'>{q['n']}</td></tr>"
            for q in data.quarantine[:20]
        )
        or "<tr><td colspan='3'>nothing quarantined for this day</td></tr>"
    )
    step_rows = "".join(
        f"<tr class='{'failed' if s['status'] != 'ok' else ''}'><td>{_e(s['step'])}</td><td>{_e(s['status'])}</td>"
        f"<td class='num'>{float(s['duration_s'] or 0):.1f}s</td><td class='num'>{s['rows_in']}</td>"
        f"<td class='num'>{s['rows_out']}</td><td class='num'>{s['quarantined']}</td>"
        f"<td>{_e(s['error'] or '')}</td></tr>"
        for s in data.steps
    )

    def pct(value: Any) -> str:
        return "–" if value is None else f"{float(value) * 100:.0f}%"

    def dec(value: Any, spec: str = ".2f") -> str:
        return "–" if value is None else format(float(value), spec)

    quality_rows = (
        "".join(
            f"<tr><td>{_e(q['provider'])}/{_e(q['model'])} · {_e(q['prompt_version'])}</td>"
            f"<td class='num'>{q['titles']}</td><td class='num'>{pct(q['primary_genre_in_source_rate'])}</td>"
            f"<td class='num'>{pct(q['secondary_genres_in_vocabulary_rate'])}</td>"
            f"<td class='num'>{pct(q['vibe_tags_in_vocabulary_rate'])}</td>"
            f"<td class='num'>{dec(q['score_mae'])} / {dec(q['score_spearman'])} ({q['score_titles']})</td>"
            f"<td class='num'>{pct(q['summary_grounding_rate'])}</td>"
            f"<td class='num'>{q['failures']}</td><td class='num'>{q['validation_retries']}</td>"
            f"<td class='num'>${dec(q['cost_per_title_usd'], '.5f')}</td></tr>"
            for q in data.quality
        )
        or "<tr><td colspan='10'>not evaluated: the run did not complete enrich_titles</td></tr>"
    )
    quality = (
        '<div style="margin-top:20px"><figure class="chart" data-table="quality"><figcaption>Enrichment quality'
        "<small>trending-now eval on the current enrichment inputs after this run, stored in ops.enrichment_evals (docs/evaluation.md)"
        "</small></figcaption><table><tr><th>provider/model · prompt</th><th class='num'>titles</th>"
        "<th class='num'>genre in sources</th><th class='num'>2nd genres in vocab.</th>"
        "<th class='num'>tags in vocab.</th><th class='num'>score MAE / Spearman (titles)</th>"
        "<th class='num'>summary grounded</th><th class='num'>failures</th><th class='num'>validation retries</th>"
        f"<th class='num'>cost/title</th></tr>{quality_rows}</table></figure></div>"
    )
    tables = (
        '<div class="grid" style="margin-top:20px">'
        f"{charts.pop()}"  # review sources next to the quarantine: both are about what the sources gave
        '<figure class="chart" data-table="quarantine"><figcaption>Quarantine<small>records set aside with a '
        "reason (raw_*.quarantine, this day)</small></figcaption><table><tr><th>source</th><th>reason</th>"
        f"<th class='num'>records</th></tr>{quarantine_rows}</table></figure></div>"
        f"{quality}"
        '<div style="margin-top:20px"><figure class="chart" data-table="steps"><figcaption>Steps<small>ops.pipeline_runs for this run'
        "</small></figcaption><table><tr><th>step</th><th>status</th><th class='num'>time</th>"
        "<th class='num'>in</th><th class='num'>out</th><th class='num'>quar.</th><th>error</th></tr>"
        f"{step_rows}</table></figure></div>"
    )

    alert = ""
    if failed:
        alert = (
            f'<div class="alert"><b>The run failed at {_e(failed["step"])}.</b> {_e(failed["error"] or "")}<br>'
            "Steps after it did not run; the figures below are what the warehouse held at that point.</div>"
        )
    elif not data.steps:
        alert = '<div class="alert">No step of this run is recorded in ops.pipeline_runs.</div>'
    notes = "".join(f'<div class="note">Could not read {_e(p)}</div>' for p in data.problems)
    started = data.started_at.strftime("%Y-%m-%d %H:%M UTC") if data.started_at else "–"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Trending Now · run {_e(data.run_id)}</title><style>{CSS}</style></head>
<body><header><h1>Trending Now · run {_e(data.run_id)}<span class="chip {status}">{status}</span></h1>
<p>as of {_e(data.as_of or "–")} · started {_e(started)} · warehouse {_e(data.target)}</p></header>
<main>{alert}{notes}<section class="kpis">{"".join(kpis)}</section>
<div class="grid">{"".join(charts)}</div>{tables}</main>
<footer>Written by trending-now from ops.pipeline_runs, marts.movies_tv_shows_enriched and
raw_enrichment.title_enrichments. Static page: no script, nothing loaded from the network.</footer>
</body></html>
"""


# ---- writing and publishing --------------------------------------------------------------------------
def report_path(settings: Settings, run_id: str) -> Path:
    return settings.path("quality.report_dir") / f"run-{run_id}.html"


def evaluate_enrichment(settings: Settings, run_id: str) -> None:
    """When the run's enrich step succeeded, score the enrichment (``ops.enrichment_evals``, with the run id)."""
    from trending_now.evaluation import evaluate_run

    warehouse = Warehouse(settings)
    if not warehouse.table_exists(OPS, "pipeline_runs"):
        return
    rows = warehouse.fetch_all(
        f"select as_of from {OPS}.pipeline_runs where run_id = ? and step = 'enrich_titles' and status = 'ok'",  # nosec B608  # constant identifiers: OPS (core.warehouse)
        [run_id],
    )
    if rows:
        evaluate_run(settings, run_id, rows[0]["as_of"])


def write_report(settings: Settings, run_id: str) -> Path:
    """Evaluate the enrichment, then collect, render and write the report of ``run_id`` (atomically)."""
    problems = []
    try:
        evaluate_enrichment(settings, run_id)
    except Exception as exc:  # the page says so; the rest of it is still worth having
        problems.append(f"the enrichment evaluation: {first_line(exc, repr(exc))}")
    data = collect(Warehouse(settings), run_id, int(settings.get("report.history_runs", 30)))
    data.problems += problems
    path = report_path(settings, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render(data), encoding="utf-8")
    tmp.replace(path)
    return path


def s3_location(settings: Settings) -> tuple[str, str] | None:
    """(bucket, key prefix) reports go to: ``report.s3_url``, else the ``dvc.s3_url`` bucket under ``reports/``
    when the DVC remote is S3; None when reports stay local."""
    url = settings.get("report.s3_url")
    if not url and str(settings.get("dvc.remote", "local")) == "s3" and settings.get("dvc.s3_url"):
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
    import boto3

    bucket, prefix = location
    key = report_key(prefix, as_of, run_id)
    client = boto3.client(
        "s3",
        region_name=settings.get("aws.region", "us-east-1"),
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
