"""The run report: one static, offline HTML page per run, ``<quality.report_dir>/run-<run_id>.html``.

Everything on it is read back from the warehouse by run id (``ops.pipeline_runs`` for the steps and the
history, the mart, the side table, the quarantine tables and ``ops.enrichment_evals``), so a failed run gets
its report too, as long as the warehouse answers, and the DAG can write it from another process. The page is
``templates/run_report.html.j2``; its charts are inline SVG (:mod:`reporting.charts`, no script, no
stylesheet or font from the network). :func:`publish_report` uploads the page to S3 in staging/prod.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from core import raw_spec, step_names
from core.config import ConfigError, Settings
from core.dbt_relations import relation
from core.files import write_text_atomic
from core.text import first_line, parse_list
from core.warehouse import OPS, RAW_ENRICHMENT, Warehouse
from reporting import evaluation
from reporting.charts import EN_DASH, PALETTE, Chart, ColumnStyle, column_chart, hbar_chart, score_histogram

MART = str(relation("movies_tv_shows_enriched"))
AVAILABILITY = str(relation("title_availability"))
QUARANTINE_TABLES = tuple(
    (t.schema, t.name) for t in (raw_spec.JUSTWATCH_QUARANTINE, raw_spec.REVIEWS_QUARANTINE)
)
TEMPLATES = Path(__file__).with_name("templates")
NO_VALUE = EN_DASH  # shown where a figure is not known
MAX_QUARANTINE_ROWS, MAX_REASON_CHARS = 20, 200


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
        for platform in parse_list(row["streaming_platforms"]) or ["Unknown"]:
            data.platforms.setdefault(platform, Counter())[kind] += 1
        if row["llm_generated_score"] is not None:
            data.scores.append(float(row["llm_generated_score"]))


def _countries(warehouse: Warehouse, data: ReportData, _: int) -> None:
    """Titles per country: listed as new by this run's extract, and published (marts.title_availability).

    The CLI records one extract for every country; a DAG run one per country (the mapped task), in run order."""
    for step in (s for s in data.steps if s["step"] == step_names.EXTRACT_RELEASES):
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
    step = data.step(step_names.ENRICH_TITLES)
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
    step = data.step(step_names.EXTRACT_REVIEWS)
    for name, stats in ((step or {}).get("details", {}).get("sources") or {}).items():
        data.sources[name] = {k: int(stats.get(k) or 0) for k in ("ok", "no_reviews", "not_found", "error")}


def _quality(warehouse: Warehouse, data: ReportData, _: int) -> None:
    data.quality = evaluation.for_run(warehouse, data.run_id)


# ---- the page: figures and figures' numbers, rendered by templates/run_report.html.j2 ---------------------
@dataclass(frozen=True)
class Figure:
    """One chart in its card: ``key`` names it for tests and readers (``data-chart``)."""

    key: str
    title: str
    note: str
    chart: Chart


def _total(steps: list[dict[str, Any]], column: str, kind: type = float) -> Any:
    return sum(kind(s[column] or 0) for s in steps)


def _rows_out(step: dict[str, Any] | None) -> Any:
    return step["rows_out"] if step else NO_VALUE


def kpis(data: ReportData) -> list[tuple[Any, str]]:
    enriched = data.enrichments.get("new", 0) + data.enrichments.get("changed", 0)
    return [
        (_rows_out(data.step(step_names.EXTRACT_RELEASES)), "titles extracted"),
        (_rows_out(data.step(step_names.EXTRACT_REVIEWS)), "reviews"),
        (data.published, "titles published"),
        (enriched, "enriched this run"),
        (_total(data.steps, "llm_calls", int), "LLM calls"),
        (f"${_total(data.steps, 'cost_usd'):.4f}", "LLM cost"),
        (_total(data.steps, "quarantined", int), "quarantined"),
        (f"{_total(data.steps, 'duration_s'):.1f}s", "run time"),
    ]


def platforms_figure(data: ReportData) -> Figure:
    types = sorted({t for c in data.platforms.values() for t in c})
    platform_rows = sorted(data.platforms.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    return Figure(
        "platforms",
        "Titles by platform and type",
        "published rows of marts.movies_tv_shows_enriched; a title on several platforms counts on each",
        hbar_chart([(p, [float(c.get(t, 0)) for t in types]) for p, c in platform_rows], types),
    )


def countries_figure(data: ReportData) -> Figure:
    rows = sorted(data.countries.items(), key=lambda kv: (-kv[1].get("listed", 0), kv[0]))
    series = ["listed this run", "published"]
    return Figure(
        "countries",
        "Titles per country",
        "titles JustWatch listed as new in the window, per country of the run (extract_releases), and published "
        "titles available there (marts.title_availability); a title listed in several countries counts in each",
        hbar_chart([(c, [float(d.get("listed", 0)), float(d.get("published", 0))]) for c, d in rows], series),
    )


def scores_figure(data: ReportData) -> Figure:
    median = f", median {sorted(data.scores)[len(data.scores) // 2]:.1f}" if data.scores else ""
    return Figure(
        "scores",
        "Score distribution",
        f"llm_generated_score of {len(data.scores)} published titles{median}",
        score_histogram(data.scores),
    )


def enrichments_figure(data: ReportData) -> Figure:
    kinds = ("new", "changed", "cached", "failed") if data.enrichments else ()
    return Figure(
        "enrichments",
        "Enrichments this run",
        "new titles, titles re-enriched because their sources or the prompt changed, cached, failed",
        hbar_chart([(k.capitalize(), [float(data.enrichments.get(k, 0))]) for k in kinds], ["titles"]),
    )


def steps_figure(data: ReportData) -> Figure:
    failed = data.failed_step
    return Figure(
        "steps",
        "Step times",
        "seconds per step of this run" + (f"; stopped at {failed['step']}" if failed else ""),
        hbar_chart(
            [(s["step"], [float(s["duration_s"] or 0)]) for s in data.steps], ["seconds"], unit=" s", digits=1
        ),
    )


def llm_calls_figure(data: ReportData) -> Figure:
    return Figure(
        "llm-calls",
        "LLM calls per day",
        f"over the last {sum(d['runs'] for d in data.daily)} runs (ops.pipeline_runs), by run start date",
        column_chart([(d["day"].strftime("%b %d"), float(d["llm_calls"])) for d in data.daily]),
    )


def llm_cost_figure(data: ReportData) -> Figure:
    return Figure(
        "llm-cost",
        "LLM cost per day",
        "USD, same runs",
        column_chart(
            [(d["day"].strftime("%b %d"), d["cost_usd"]) for d in data.daily],
            ColumnStyle(color=PALETTE[1], money=True),
        ),
    )


SOURCE_OUTCOMES = ("ok", "no_reviews", "not_found", "error")


def sources_figure(data: ReportData) -> Figure:
    return Figure(
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


def _pct(value: Any) -> str:
    return NO_VALUE if value is None else f"{float(value) * 100:.0f}%"


def _dec(value: Any, spec: str = ".2f") -> str:
    return NO_VALUE if value is None else format(float(value), spec)


@cache
def templates() -> jinja2.Environment:
    """The report's templates; every value they print is HTML-escaped."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters.update(pct=_pct, dec=_dec)
    return env


def render(data: ReportData) -> str:
    return (
        templates()
        .get_template("run_report.html.j2")
        .render(
            data=data,
            kpis=kpis(data),
            figures=[figure(data) for figure in CHART_FIGURES],
            sources=sources_figure(data),
            NO_VALUE=NO_VALUE,
            MAX_QUARANTINE_ROWS=MAX_QUARANTINE_ROWS,
            MAX_REASON_CHARS=MAX_REASON_CHARS,
        )
    )


# ---- writing and publishing --------------------------------------------------------------------------
def report_path(settings: Settings, run_id: str) -> Path:
    return settings.path("quality.report_dir") / f"run-{run_id}.html"


def write_report(warehouse: Warehouse, settings: Settings, run_id: str, problems: Sequence[str] = ()) -> Path:
    """Collect, render and write the report of ``run_id`` (atomically); ``problems`` are named on the page."""
    data = collect(warehouse, run_id, settings.typed.report.history_runs)
    data.problems += problems
    path = report_path(settings, run_id)
    write_text_atomic(path, render(data))
    return path


def s3_location(settings: Settings) -> tuple[str, str] | None:
    """(bucket, key prefix) reports go to: ``report.s3_url``, else the ``dvc.s3_url`` bucket under ``reports/``
    when the DVC remote is S3; None when reports stay local."""
    url = settings.get("report.s3_url")
    if not url and settings.typed.dvc.remote == "s3" and settings.get("dvc.s3_url"):
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


def report_run(
    warehouse: Warehouse, settings: Settings, run_id: str, as_of: date | str | None
) -> tuple[Path, str | None]:
    """What a run (the CLI or the DAG's last task) calls: score the run's enrichment when its enrich step
    succeeded (``ops.enrichment_evals``), write the page, upload it when S3 is configured."""
    problems = []
    try:
        evaluation.evaluate_run(warehouse, settings, run_id)
    except Exception as exc:  # the page says so; the rest of it is still worth having
        problems.append(f"the enrichment evaluation: {first_line(exc, repr(exc))}")
    path = write_report(warehouse, settings, run_id, problems)
    return path, publish_report(settings, path, run_id, as_of)
