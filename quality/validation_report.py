"""The gate's reports: a compact JSON payload and an HTML page per run, written atomically under
``quality.report_dir`` as ``validation-<as_of>-<run_id>.{json,html}``."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from core.context import RunContext
from core.files import write_text_atomic
from quality.suite import SAMPLE_SIZE, SUITE_NAME, ExpectationOutcome, ValidationOutcome, short

STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}"
    "tr.fail{background:#fdd}tr.pass{background:#efe}code{font-size:90%}"
)


def _reported(value: Any) -> Any:
    """An argument as a report shows it: a long list (the audited ids) as its first values and its length."""
    if isinstance(value, list) and len(value) > SAMPLE_SIZE:
        return [*value[:SAMPLE_SIZE], f"… {len(value)} values"]
    return value


def result_payload(r: ExpectationOutcome) -> dict[str, Any]:
    return {
        "relation": r.relation,
        "country": r.country or None,
        "expectation": r.expectation,
        "check": r.check,
        "kwargs": {k: _reported(v) for k, v in r.kwargs.items()},
        "success": r.success,
        "observed_value": r.observed_value,
        "unexpected_count": r.unexpected_count,
        "unexpected_sample": [short(v) for v in r.unexpected_sample],
        "exception": r.exception,
    }


def report_payload(outcome: ValidationOutcome, ctx: RunContext) -> dict[str, Any]:
    t = outcome.thresholds
    return {
        "suite": SUITE_NAME,
        "run_id": ctx.run_id,
        "as_of": ctx.as_of.isoformat(),
        "target": ctx.warehouse.target,
        "success": outcome.success,
        "rows": outcome.rows,
        "availability_rows": outcome.availability_rows,
        "thresholds": {
            "min_rows": t.min_rows,
            "min_row_count": t.min_row_count,
            "countries": list(t.countries),
            "listed_countries": list(t.listed_countries),
            "min_titles_per_country": t.min_titles,
        },
        "statistics": {"evaluated": outcome.evaluated, "failed": len(outcome.failures)},
        "results": [result_payload(r) for r in outcome.results],
    }


def result_detail(r: dict[str, Any]) -> str:
    """The result column: the exception, the unexpected values, or what was observed."""
    if r["exception"]:
        return r["exception"]
    if r["unexpected_count"]:
        return f"{r['unexpected_count']} unexpected: {', '.join(r['unexpected_sample'])}"
    return f"observed {short(r['observed_value'])}"


def result_row(r: dict[str, Any]) -> str:
    esc = html.escape
    status = "pass" if r["success"] else "FAIL"
    kwargs = {k: v for k, v in r["kwargs"].items() if k != "json_schema"}
    where = r["relation"] + (f" ({r['country']})" if r["country"] else "")
    return (
        f'<tr class="{status.lower()}"><td>{status}</td><td>{esc(where)}</td><td>{esc(r["expectation"])}</td>'
        f"<td><code>{esc(json.dumps(kwargs, default=str))}</code></td><td>{esc(result_detail(r))}</td></tr>"
    )


def render_html(payload: dict[str, Any]) -> str:
    esc = html.escape
    title = f"{payload['suite']} — {payload['as_of']} — run {payload['run_id']}"
    verdict = "PASSED" if payload["success"] else "FAILED"
    stats = payload["statistics"]
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>\n"
        f"<h1>{esc(title)}</h1>\n"
        f"<p><strong>{verdict}</strong>: {stats['evaluated']} expectations evaluated, {stats['failed']} failed, "
        f"{payload['rows']} rows and {payload['availability_rows']} per-country rows ({esc(payload['target'])}); "
        f"minimum row count {payload['thresholds']['min_row_count']}, at least "
        f"{payload['thresholds']['min_titles_per_country']} title(s) of the window in each of "
        f"{esc(', '.join(payload['thresholds']['listed_countries']) or 'no country')}.</p>\n"
        "<table><tr><th>status</th><th>relation</th><th>expectation</th><th>arguments</th><th>result</th></tr>\n"
        + "\n".join(result_row(r) for r in payload["results"])
        + "\n</table></body></html>\n"
    )


def report_dir(ctx: RunContext) -> Path:
    """``quality.report_dir``, or ``data/reports`` under the project root."""
    if ctx.settings.get("quality.report_dir"):
        return ctx.settings.path("quality.report_dir")
    return ctx.settings.root / "data" / "reports"


def write_reports(outcome: ValidationOutcome, ctx: RunContext) -> tuple[Path, Path]:
    """Write the JSON and HTML reports of one validation; returns their paths (JSON first)."""
    directory = report_dir(ctx)
    stem = f"validation-{ctx.as_of.isoformat()}-{ctx.run_id}"
    payload = report_payload(outcome, ctx)
    json_path, html_path = directory / f"{stem}.json", directory / f"{stem}.html"
    write_text_atomic(json_path, json.dumps(payload, indent=1, default=str, sort_keys=False) + "\n")
    write_text_atomic(html_path, render_html(payload))
    return json_path, html_path
