"""Step ``extract_reviews``: reviews of the titles due today, within each source's daily budget.

The titles come folded from dbt (``intermediate.int_review_subjects_listed``: a season is reviewed as
its show; built by the ``dbt_titles`` step). What is due, and how many requests each source may make,
is computed from the warehouse (extract/reviews/schedule.py), so any worker plans the same day.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pydantic import ValidationError

from core import step_names
from core.context import RunContext, StepResult
from core.warehouse import RAW_REVIEWS
from extract.reviews import schedule
from extract.reviews.harvest import Harvester
from extract.reviews.http import HttpClient
from extract.reviews.models import QuarantineEntry, Subject
from extract.reviews.settings import SOURCES, ReviewsSettings

log = logging.getLogger(__name__)

STEP = step_names.EXTRACT_REVIEWS
PIPELINE_NAME = "reviews"


def subject_from_row(row: Mapping[str, Any]) -> Subject:
    """A row of the folded-titles model as a :class:`Subject`; raises ValidationError when malformed."""

    def text(value: Any) -> Any:
        return value.strip() or None if isinstance(value, str) else value

    return Subject(
        title_id=text(row.get("title_id")),
        content_type=text(row.get("subject_type")),
        title=text(row.get("title")),
        year=row.get("release_year"),
        tmdb_id=None if row.get("tmdb_id") is None else str(text(row.get("tmdb_id"))),
        imdb_id=text(row.get("imdb_id")),
    )


def subjects_from_rows(
    rows: Iterable[Mapping[str, Any]], as_of: date
) -> tuple[list[Subject], list[QuarantineEntry]]:
    """Subjects of the model's rows, in order; a malformed row is quarantined with its reason and payload."""
    subjects: list[Subject] = []
    quarantine: list[QuarantineEntry] = []
    for row in rows:
        try:
            subjects.append(subject_from_row(row))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
            payload = repr({k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.items()})
            quarantine.append(
                QuarantineEntry.build(
                    "reviews",
                    str(row.get("title_id") or "") or None,
                    f"malformed review subject: {problems}",
                    payload,
                    as_of,
                )
            )
    return subjects, quarantine


class SubjectsNotBuilt(RuntimeError):
    """The dbt model this step reads is missing: the ``dbt_titles`` step has not run on this warehouse."""


def require_subjects_model(ctx: RunContext) -> None:
    """The titles to review come from dbt (``dbt_titles`` runs before this step); fail clearly without them."""
    schema, table = schedule.SUBJECTS_RELATION.split(".")
    if not ctx.warehouse.table_exists(schema, table):
        raise SubjectsNotBuilt(
            f"{schedule.SUBJECTS_RELATION} does not exist: run the dbt_titles step first "
            "(`trending-now extract` runs it before extract_reviews)"
        )


@dataclass
class Plan:
    """Today's work: the titles due (with each source's reason), counted per source and per reason."""

    since: date
    listed: int
    states: Any
    subjects: list[Subject]
    bad_subjects: list[QuarantineEntry]
    due: dict[str, dict[str, str]]
    due_per_source: Counter[str]
    reasons: Counter[str]


def plan_day(ctx: RunContext, settings: ReviewsSettings) -> Plan:
    """Read the listed titles and their fetch states from the warehouse and decide what is due today."""
    since = min(ctx.window_start, ctx.as_of - timedelta(days=settings.refresh_horizon + 1))
    rows = schedule.read_candidates(ctx.warehouse, since)
    states = schedule.read_states(ctx.warehouse, since)
    planned = schedule.plan(rows, states, schedule.Day(ctx.as_of, ctx.window_start, settings), SOURCES)
    if ctx.limit is not None:
        planned = planned[: max(0, ctx.limit)]
    subjects, bad_subjects = subjects_from_rows((p.row for p in planned), ctx.as_of)
    enabled = {s for s in SOURCES if settings.is_enabled(s)}
    return Plan(since, len(rows), states, subjects, bad_subjects, *due_counts(planned, enabled))


def due_counts(
    planned: list[schedule.Planned], enabled: set[str]
) -> tuple[dict[str, dict[str, str]], Counter[str], Counter[str]]:
    """Per title its sources' reasons; titles due per enabled source; fetches due per reason."""
    due = {p.row["title_id"]: p.reasons for p in planned}
    per_source = Counter(source for p in planned for source in p.reasons if source in enabled)
    per_reason = Counter(reason for p in planned for reason in p.reasons.values())
    return due, per_source, per_reason


@dataclass
class Ledger:
    """The requests each source may make today: what earlier runs used, what this run reserves."""

    day: date
    used_before: dict[str, int]
    reserved: dict[str, int]

    @classmethod
    def reserve(cls, ctx: RunContext, settings: ReviewsSettings, plan: Plan) -> Ledger:
        day = schedule.budget_day(settings, ctx.as_of)
        used_before = schedule.used_on(ctx.warehouse, day)
        remaining = {s: max(0, settings.daily_budget(s) - used_before.get(s, 0)) for s in SOURCES}
        due = {s: plan.due_per_source.get(s, 0) for s in SOURCES}
        ledger = cls(day, used_before, schedule.reservation(settings, remaining, due))
        if plan.subjects:
            ledger.write(ctx, ledger.reserved)
        return ledger

    def write(self, ctx: RunContext, this_run: Mapping[str, int]) -> None:
        """Record today's use: the earlier runs' plus ``this_run``'s (reserved first, then spent)."""
        used = {s: self.used_before.get(s, 0) + this_run[s] for s in SOURCES}
        schedule.write_used(ctx.warehouse, self.day, used)

    def details(
        self, settings: ReviewsSettings, spent: Mapping[str, int], plan: Plan, per_source: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        return {
            s: {
                "day": self.day.isoformat(),
                "daily_budget": settings.daily_budget(s),
                "used_before": self.used_before.get(s, 0),
                "reserved": self.reserved[s],
                "used": spent[s],
                "used_today": self.used_before.get(s, 0) + spent[s],
                "due": plan.due_per_source.get(s, 0),
                "deferred": per_source[s]["deferred"],
            }
            for s in SOURCES
        }


@dataclass
class Harvest:
    """What the harvester brought back, and the requests each source spent."""

    per_source: dict[str, Any]
    reviews_out: int
    quarantined: int
    titles_with_reviews: int
    stopped: dict[str, str]
    spent: dict[str, int]


def harvest(ctx: RunContext, client: HttpClient, plan: Plan, ledger: Ledger) -> Harvest:
    """Fetch the due titles' reviews within the reserved budgets and load them (dlt); today's use is
    recorded also when the load fails."""
    settings, total = client.settings, len(plan.subjects)

    def on_title_done(done: int) -> None:
        if done % settings.progress_every == 0 or done == total:
            ctx.progress(f"reviews: {done}/{total} titles fetched")

    def on_stop(source: str, reason: str) -> None:
        ctx.progress(f"reviews: {source} stopped for this run: {reason}")

    before = {s: client.source_stats(s).get("requests", 0) for s in SOURCES}
    for source in SOURCES:
        client.set_budget(source, ledger.reserved[source])
    harvester = Harvester(
        settings,
        client,
        ctx.as_of,
        on_title_done=on_title_done,
        due=plan.due,
        states=plan.states,
        on_stop=on_stop,
    )
    from extract.reviews.source import reviews_source  # noqa: PLC0415 - dlt only when loading (DAG parse stays light)

    try:
        source = reviews_source(
            plan.subjects,
            settings=settings,
            harvester=harvester,
            quarantine_rows=plan.bad_subjects,
        )
        if plan.subjects or plan.bad_subjects:
            ctx.warehouse.dlt_run(PIPELINE_NAME, RAW_REVIEWS, source)
    finally:
        harvester.close()
        spent = {s: client.source_stats(s).get("requests", 0) - before[s] for s in SOURCES}
        if plan.subjects:
            ledger.write(ctx, spent)
    return Harvest(
        per_source=harvester.details(),
        reviews_out=sum(harvester.selected_counts.values()),
        quarantined=harvester.quarantined + len(plan.bad_subjects),
        titles_with_reviews=harvester.titles_with_reviews,
        stopped=dict(harvester.stopped),
        spent=spent,
    )


def summary_line(found: Harvest, budget: Mapping[str, Mapping[str, Any]]) -> str:
    """One progress line: requests and outcomes per source, reviews kept, sources stopped."""
    return (
        "reviews: "
        + ", ".join(
            f"{s} {d['requests']} req ({budget[s]['used_today']}/{budget[s]['daily_budget']} today), "
            f"{d['ok']} ok/{d['error']} err/{d['deferred']} deferred"
            for s, d in found.per_source.items()
        )
        + f"; {found.reviews_out} review(s) kept, {found.quarantined} quarantined"
        + "".join(f"; {s} STOPPED: {why}" for s, why in found.stopped.items())
    )


def extract_reviews(ctx: RunContext, reviews_http: HttpClient) -> StepResult:
    """The due titles' reviews from every source, within today's request budgets, into ``raw_reviews``; the
    HTTP client is the run's (its per-host limits and counts span the step)."""
    settings = reviews_http.settings
    require_subjects_model(ctx)
    plan = plan_day(ctx, settings)
    total = len(plan.subjects)
    ctx.progress(
        f"reviews: {total} title(s) due ({plan.reasons.get('new', 0)} new fetches, "
        f"{plan.reasons.get('refresh', 0)} refreshes) of {plan.listed} listed since {plan.since}"
    )
    ledger = Ledger.reserve(ctx, settings, plan)
    found = harvest(ctx, reviews_http, plan, ledger)
    budget = ledger.details(settings, found.spent, plan, found.per_source)
    ctx.progress(summary_line(found, budget))
    return StepResult(
        step=STEP,
        rows_in=total,
        rows_out=found.reviews_out,
        quarantined=found.quarantined,
        cache_hits=sum(d["cache_hits"] for d in found.per_source.values()),
        details={
            "sources": found.per_source,
            "budget": budget,
            "stopped_sources": found.stopped,
            "titles_due": total,
            "fetches_due": dict(plan.reasons),
            "titles_with_reviews": found.titles_with_reviews,
            "malformed_subjects": len(plan.bad_subjects),
        },
    )
