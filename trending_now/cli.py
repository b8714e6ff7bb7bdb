"""``trending-now``: run the daily job, or any step of it, from the command line.

Exit 0 on success; on failure one line ``error: <step>: <cause>`` on stderr and exit 1
(2 for usage errors, 3 when another run holds the lock).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from core.config import ConfigError, Secrets, Settings, load_settings
from core.context import RunContext
from core.metrics import StepRecord, last_run
from core.redact import redact
from core.replay import ReplayServer
from core.text import first_line
from core.warehouse import Warehouse
from trending_now.compose import run_context

DEMO_AS_OF = date(2026, 11, 20)  # the date the recorded samples in data/samples/ were taken for
DEMO_COUNTRIES = "US,GB"  # the countries data/samples/justwatch holds (the demo's default --country)

EPILOG = """\
steps of a daily run, in order:
  extract    extract_releases (JustWatch) + extract_reviews (TMDB, RogerEbert.com, Guardian) -> raw_* via dlt
  transform  dbt staging + intermediate (before enrich) and marts with tests (after); --layer picks one
  enrich     one structured Gemini call per new/changed title (heuristic provider without GEMINI_API_KEY)
  validate   Great Expectations gate on the mart's audit relation (marts_audit), before it is published
  publish    swap the audited mart into marts.movies_tv_shows_enriched (write-audit-publish)
  export     Parquet file under data/exports/
  snapshot   DVC add + push of the export (--list, --restore DATE)

examples:
  trending-now demo                          the whole job offline on the recorded samples (DuckDB, US and GB)
  trending-now run --country US,GB,DE        the whole job live for three countries (the first is primary)
  trending-now run --as-of 2026-11-20        the whole job live for that day (needs network)
  trending-now enrich --limit 10             enrich at most 10 pending titles
  trending-now report --json                 metrics of the last run from ops.pipeline_runs
  trending-now eval --set --check            gate: the enrichment on the evaluation set vs its baseline
  trending-now eval --before-deploy          CD: that gate with Gemini, when the model or prompt changed
"""


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-11-20") from None


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number")
    return number


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--as-of",
        type=_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="last day of the window (default: today in airflow.timezone; demo: 2026-11-20)",
    )
    common.add_argument("--days", type=_positive, default=None, help="days in the window (default: 7)")
    common.add_argument(
        "--country",
        default=None,
        metavar="US,GB,...",
        help="JustWatch country code, or a comma-separated list; the first is the primary country "
        "(default: run.countries)",
    )
    common.add_argument("--limit", type=_positive, default=None, metavar="N", help="process at most N titles")
    common.add_argument(
        "--env",
        choices=("dev", "staging", "prod"),
        default=None,
        help="configuration to load (default: $APP_ENV or dev)",
    )
    common.add_argument(
        "--target",
        choices=("duckdb", "postgres", "redshift"),
        default=None,
        help="warehouse override (default: warehouse.target from config)",
    )
    common.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")

    parser = argparse.ArgumentParser(
        prog="trending-now",
        description="Trending Now: this week's streaming releases, critics' reviews and LLM enrichment, "
        "published as marts.movies_tv_shows_enriched.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", parents=[common], help="run the whole daily job")
    sub.add_parser(
        "demo",
        parents=[common],
        help="run the whole job offline against the recorded samples (replay server + DuckDB)",
    )
    extract = sub.add_parser("extract", parents=[common], help="load new releases and their reviews (dlt)")
    extract.add_argument(
        "--only",
        choices=("releases", "reviews"),
        help="only the JustWatch releases, or only the reviews (after dbt lists the titles to review)",
    )
    transform = sub.add_parser("transform", parents=[common], help="run dbt")
    transform.add_argument(
        "--layer",
        choices=("staging", "marts", "all"),
        default="all",
        help="staging = staging+intermediate, marts = the mart and its tests (default: all)",
    )
    enrich = sub.add_parser("enrich", parents=[common], help="enrich pending titles with the LLM")
    enrich.add_argument(
        "--plan",
        action="store_true",
        help="say how many titles are pending (new, changed, re-enriched after a prompt or model change) and "
        "what enriching them costs at the configured prices; no call is made",
    )
    sub.add_parser("validate", parents=[common], help="Great Expectations gate on the mart's audit relation")
    sub.add_parser("publish", parents=[common], help="publish the audited mart (after validate passed)")
    sub.add_parser("export", parents=[common], help="export the mart to Parquet under data/exports/")
    snapshot = sub.add_parser("snapshot", parents=[common], help="version the export with DVC")
    group = snapshot.add_mutually_exclusive_group()
    group.add_argument("--list", action="store_true", help="list the snapshots")
    group.add_argument(
        "--restore", type=_date, metavar="YYYY-MM-DD", help="bring back the export of that day"
    )
    report = sub.add_parser("report", parents=[common], help="show the last run's metrics")
    report.add_argument("--json", action="store_true", help="print them as JSON")
    add_eval_parser(sub, common)
    return parser


def add_eval_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    evaluate = sub.add_parser(
        "eval",
        parents=[common],
        help="score the enrichment against its sources (stored in ops.enrichment_evals)",
        description="Score the enrichment with metrics that need no second model: primary genre within the "
        "source genres, vocabulary, score vs critics (MAE, Spearman), summary grounding, retries, failures, "
        "cost. Without --set: the enrichments the warehouse holds for the current inputs. With --set: run the "
        "configured provider (heuristic, or Gemini when GEMINI_API_KEY is set) on the fixed evaluation set.",
    )
    evaluate.add_argument("--json", action="store_true", help="print the evaluations as JSON")
    evaluate.add_argument(
        "--set",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="evaluate on the evaluation set (default eval.set_path) instead of the warehouse",
    )
    evaluate.add_argument(
        "--check",
        action="store_true",
        help="with --set: fail (exit 1) on a regression against the accepted baseline beyond eval.tolerances",
    )
    evaluate.add_argument(
        "--accept", action="store_true", help="with --set: record these figures as the provider's baseline"
    )
    evaluate.add_argument(
        "--before-deploy",
        action="store_true",
        help="for CD, with the production key: when enrich.model or the prompt version differs from the "
        "accepted Gemini baseline, run Gemini on the evaluation set and gate it (exit 1 on a regression or "
        "a fatal error); otherwise exit 0 without a call",
    )


def _missing_baseline(settings: Settings) -> str | None:
    """Why ``eval --set --check`` cannot gate: no accepted baseline for the configured provider (or None)."""
    from enrich.providers.factory import resolve_provider_name  # noqa: PLC0415 - keeps `--help` light
    from reporting import evaluation  # noqa: PLC0415 - keeps `--help` light

    provider = resolve_provider_name(settings)
    baseline_path = settings.path("eval.baseline_path")
    if provider in evaluation.read_baseline(baseline_path):
        return None
    return (
        f"no accepted baseline for provider {provider} in {baseline_path}; "
        "review the figures of `trending-now eval --set` and record them with --accept"
    )


@dataclass
class EvalOutcome:
    """What ``trending-now eval`` found: the evaluations, the gate's comparisons, the gate's complaint."""

    evaluations: list[Any]
    comparisons: list[Any] = field(default_factory=list)
    problem: str | None = None


def _evaluate_set(args: argparse.Namespace, settings: Settings, warehouse: Warehouse) -> EvalOutcome:
    """Run the provider on the evaluation set; with --check gate it, with --accept record it as baseline."""
    from reporting import evaluation  # noqa: PLC0415 - keeps `--help` light

    found = evaluation.evaluate_set(warehouse, settings, Path(args.set) if args.set else None, args.as_of)
    outcome = EvalOutcome([found])
    if found.details.get("fatal"):  # one call, then nothing: no figures to gate or to accept
        outcome.problem = f"{found.details['fatal']} (the evaluation set was not evaluated)"
        return outcome
    if args.check:
        passed, outcome.comparisons, entry = evaluation.gate(settings, found)
        if entry is not None and not passed:
            regressed = ", ".join(c.metric for c in outcome.comparisons if c.regressed)
            outcome.problem = (
                f"{found.label()} regressed against the baseline ({entry['model']} prompt "
                f"{entry['prompt_version']}): {regressed}"
            )
    if args.accept:
        evaluation.accept(settings.path("eval.baseline_path"), found)
    return outcome


def _eval_json(outcome: EvalOutcome) -> str:
    payload = [e.as_dict() for e in outcome.evaluations]
    for item in payload:
        item["comparisons"] = [c.__dict__ for c in outcome.comparisons]
    return json.dumps(payload, indent=2, default=str)


def _eval_text(outcome: EvalOutcome, accepted_in: Path | None) -> str:
    """The evaluations as text; ``accepted_in`` names the baseline file when --accept recorded them."""
    from reporting import evaluation  # noqa: PLC0415 - keeps `--help` light

    lines = [evaluation.describe(found) for found in outcome.evaluations]
    if not outcome.evaluations:
        lines.append("no enrichment stored for the current inputs yet")
    if outcome.comparisons:
        lines.append("gate against the accepted baseline:")
        lines.extend(c.line() for c in outcome.comparisons)
    if accepted_in is not None:
        lines.append(f"accepted as the {outcome.evaluations[0].provider} baseline in {accepted_in}")
    return "\n".join(lines)


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    """``trending-now eval``: score, store in ops.enrichment_evals, print; exit 1 when the gate fails."""
    from reporting import evaluation  # noqa: PLC0415 - keeps `--help` light

    warehouse = make_context(args, settings).warehouse
    if args.before_deploy:
        verdict = evaluation.check_before_deploy(warehouse, settings)
        print("\n".join(verdict.lines))
        return 0 if verdict.passed else 1
    missing = _missing_baseline(settings) if args.check and not args.accept else None
    if missing:  # before any paid call
        print(f"error: eval: {missing}", file=sys.stderr)
        return 1
    if args.set is not None or args.check or args.accept:
        outcome = _evaluate_set(args, settings, warehouse)
    else:
        outcome = EvalOutcome(evaluation.evaluate_warehouse(warehouse, settings, args.as_of))
    evaluation.store(warehouse, outcome.evaluations)
    accepted_in = settings.path("eval.baseline_path") if args.accept else None
    print(_eval_json(outcome) if args.json else _eval_text(outcome, accepted_in))
    if outcome.problem:
        print(f"error: eval: {outcome.problem}", file=sys.stderr)
        return 1
    return 0


def make_context(
    args: argparse.Namespace,
    settings: Settings,
    default_as_of: date | None = None,
    default_countries: str | None = None,
) -> RunContext:
    """The run's context from the command line (``--as-of`` else today by the DAG's clock, see
    :func:`trending_now.compose.run_day`); the countries are validated before any request."""
    return run_context(
        settings,
        as_of=args.as_of or default_as_of,
        days=args.days,
        countries=args.country or default_countries,  # None: run.countries
        limit=args.limit,
        quiet=args.quiet,
    )


def selected_steps(args: argparse.Namespace) -> list[Any]:
    from trending_now import pipeline  # noqa: PLC0415 - keeps `--help` light (imports every step)

    command = args.command
    if command in ("run", "demo"):
        return list(pipeline.STEPS)
    if command == "extract":
        # `extract --only reviews` rebuilds the titles to review first: extract_reviews reads them from dbt.
        only = {
            "releases": [pipeline.EXTRACT_RELEASES],
            "reviews": [pipeline.DBT_TITLES, pipeline.EXTRACT_REVIEWS],
        }.get(args.only)
        return [s for s in pipeline.steps_in_group("extract") if only is None or s in only]
    if command == "transform":
        return {
            "staging": [pipeline.DBT_BEFORE_ENRICH],
            "marts": [pipeline.DBT_MARTS],
            "all": [pipeline.DBT_BEFORE_ENRICH, pipeline.DBT_MARTS],
        }[args.layer]
    return pipeline.steps_in_group(command)


def run_and_report(
    ctx: RunContext, steps: Sequence[Any], report: bool
) -> tuple[list[StepRecord], str | None]:
    """Run ``steps``; with ``report`` (run, demo) write the run report afterwards, also when a step failed."""
    from trending_now import pipeline  # noqa: PLC0415 - keeps `--help` light (imports every step)

    try:
        records = pipeline.run_steps(ctx, steps)
    except pipeline.StepFailed as exc:
        if report and exc.step != "warehouse":  # an unreachable warehouse has nothing to report from
            where = write_run_report(ctx)
            if where:
                ctx.progress(f"run report {where}")
        raise
    return records, (write_run_report(ctx) if report else None)


def write_run_report(ctx: RunContext) -> str | None:
    """The report's path (and S3 URI when uploaded); a report that cannot be written never fails the run."""
    from reporting.run_report import report_run  # noqa: PLC0415 - keeps `--help` light

    try:
        path, uri = report_run(ctx.warehouse, ctx.settings, ctx.run_id, ctx.as_of)
    except Exception as exc:
        ctx.progress(f"could not write the run report: {redact(str(exc), ctx.settings.secrets.values())}")
        return None
    return f"{path}" + (f" ({uri})" if uri else "")


def print_summary(ctx: RunContext, records: Sequence[StepRecord], report: str | None = None) -> None:
    from trending_now.pipeline import (  # noqa: PLC0415 - keeps `--help` light (imports every step)
        ENRICH_TITLES,
        EXTRACT_RELEASES,
        EXTRACT_REVIEWS,
        PUBLISH_MART,
        VALIDATE_MART,
    )

    by_step = {r.result.step: r.result for r in records}

    def value(step: Any, field: str) -> Any:
        result = by_step.get(step.name)
        return getattr(result, field) if result else "-"

    quarantined = sum(r.result.quarantined for r in records)
    cost = sum(r.result.llm.cost_usd for r in records)
    enriched = by_step.get(ENRICH_TITLES.name)
    published = by_step.get(PUBLISH_MART.name)
    releases = by_step.get(EXTRACT_RELEASES.name)
    per_country = (releases.details.get("countries") or {}) if releases else {}
    items = releases.details.get("quarantined_items", 0) if releases else 0
    lines = [
        f"Trending Now run {ctx.run_id} · as of {ctx.as_of} · {ctx.days} days · {','.join(ctx.country_codes)} · "
        f"{ctx.warehouse.target}",
        f"  titles     {value(EXTRACT_RELEASES, 'rows_out')}"
        + (
            f" listings of {releases.details.get('unique_nodes')} nodes ("
            + ", ".join(f"{c} {d.get('titles', 0)}" for c, d in per_country.items())
            + ")"
            if releases and len(per_country) > 1
            else ""
        ),
        f"  reviews    {value(EXTRACT_REVIEWS, 'rows_out')}",
        f"  enriched   {value(ENRICH_TITLES, 'rows_out')} new "
        f"({value(ENRICH_TITLES, 'cache_hits')} cached, {enriched.llm.calls if enriched else '-'} LLM calls, "
        f"${cost:.4f})",
        f"  published  {value(VALIDATE_MART, 'rows_in')} rows in marts.movies_tv_shows_enriched "
        f"({published.details.get('changed_rows') if published else '-'} new or changed)",
        f"  quarantined {quarantined}" + (f" ({items} JustWatch list item(s))" if items else ""),
        "  step times " + ", ".join(f"{r.result.step} {r.duration_s:.1f}s" for r in records),
    ]
    if report:
        lines.append(f"  report     {report}")
    print("\n".join(lines))


def run_report(args: argparse.Namespace, settings: Settings) -> int:
    """``trending-now report``: the last run's step metrics from ops.pipeline_runs."""
    rows = last_run(make_context(args, settings).warehouse)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    lines = [
        f"{row['run_id']}  {row['step']:<26} {row['status']:<7} {row['duration_s']:>8.2f}s  "
        f"in {row['rows_in']:>6}  out {row['rows_out']:>6}  quarantined {row['quarantined']}"
        for row in rows
    ]
    print("\n".join(lines) or "no run recorded yet in ops.pipeline_runs")
    return 0


def run_enrich_plan(args: argparse.Namespace, settings: Settings) -> int:
    """``trending-now enrich --plan``: the pending titles and their estimated cost; nothing is called or written."""
    from enrich.plan import make_plan  # noqa: PLC0415 - keeps `--help` light
    from enrich.providers.factory import resolve_model  # noqa: PLC0415 - keeps `--help` light

    provider, model = resolve_model(settings)
    print("\n".join(make_plan(make_context(args, settings).warehouse, settings, provider, model).lines()))
    return 0


def run_snapshots(args: argparse.Namespace, settings: Settings) -> int:
    """``trending-now snapshot --list`` or ``--restore DATE``."""
    from publish import snapshot  # noqa: PLC0415 - keeps `--help` light (DVC helpers)

    if args.restore:
        print(snapshot.restore_snapshot(settings, args.restore))
        return 0
    lines = [
        f"{item.date}  {item.file}  md5 {item.md5}  {item.size:>10,} bytes  "
        f"{'pushed' if item.pushed else 'not pushed'}  {'local' if item.local else 'remote only'}"
        for item in snapshot.list_snapshots(settings)
    ]
    print("\n".join(lines) or "no snapshot yet")
    return 0


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    commands = {"report": run_report, "demo": run_demo, "eval": run_eval}
    if args.command == "snapshot" and (args.list or args.restore):
        return run_snapshots(args, settings)
    if args.command in commands:
        return commands[args.command](args, settings)
    if args.command == "enrich" and args.plan:
        return run_enrich_plan(args, settings)
    ctx = make_context(args, settings)
    records, report = run_and_report(ctx, selected_steps(args), report=args.command == "run")
    print_summary(ctx, records, report)
    return 0


def replay_settings(settings: Settings, overrides: dict[str, Any], target: str | None = None) -> Settings:
    """Settings that point every client at the replay server (``ReplayServer.settings_overrides()``).

    The recorded samples need no real keys: TMDB and Guardian run their key-present code path with the
    value ``replay`` unless a real key is configured; Gemini is used only when a real key is set.
    """
    # One local host serves every recorded site, so the per-host politeness limit is lifted for it.
    replayed = settings.with_overrides(
        {**overrides, "warehouse.target": target or "duckdb", "reviews.per_host_rps": 50}
    )
    values = {name: settings.secrets.get(name) or "replay" for name in ("TMDB_API_KEY", "GUARDIAN_API_KEY")}
    if settings.secrets.get("GEMINI_API_KEY"):
        values["GEMINI_API_KEY"] = settings.secrets.get("GEMINI_API_KEY") or ""
    replayed.secrets = Secrets(values, source=f"{settings.secrets.source}+replay")
    return replayed


def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    """The whole daily job against the replay server: real clients, real dlt loads, real dbt, DuckDB."""
    from trending_now import pipeline  # noqa: PLC0415 - keeps `--help` light (imports every step)

    with ReplayServer(settings.root / "data" / "samples") as server:
        demo = replay_settings(settings, server.settings_overrides(), args.target)
        ctx = make_context(args, demo, default_as_of=DEMO_AS_OF, default_countries=DEMO_COUNTRIES)
        ctx.progress(f"replay server {server.base_url} serving {len(server.routes)} recorded responses")
        records, report = run_and_report(ctx, pipeline.STEPS, report=True)
        if server.misses:
            ctx.progress(f"{len(server.misses)} request(s) had no recording (answered 404)")
    print_summary(ctx, records, report)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    secrets: list[str] = []
    try:
        settings = load_settings(args.env)
        secrets = settings.secrets.values()
        if args.target:
            settings = settings.with_overrides({"warehouse.target": args.target})
        return run_command(args, settings)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line, no traceback, secrets scrubbed
        from core.run_lock import RunLocked  # noqa: PLC0415 - keeps `--help` light

        message = first_line(exc)
        if isinstance(exc, ConfigError):
            message = f"config: {message}"
        print(f"error: {redact(message, secrets)}", file=sys.stderr)
        return 3 if isinstance(exc, RunLocked) else 1


if __name__ == "__main__":
    sys.exit(main())
