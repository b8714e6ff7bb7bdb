"""Step ``extract_reviews``: reviews of the titles due today, within each source's daily budget.

The titles come folded from dbt (``intermediate.int_review_subjects_listed``: a season is reviewed as
its show; built by the ``dbt_titles`` step). What is due, and how many requests each source may make,
is computed from the warehouse (extract/reviews/schedule.py), so any worker plans the same day.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from pydantic import ValidationError

from core.context import RunContext, StepResult
from core.warehouse import RAW_REVIEWS
from extract.reviews import schedule
from extract.reviews.harvest import Harvester
from extract.reviews.http import HttpClient
from extract.reviews.models import QuarantineEntry, Subject
from extract.reviews.settings import SOURCES, ReviewsSettings
from extract.reviews.source import reviews_source

log = logging.getLogger(__name__)

STEP = "extract_reviews"
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


def extract_reviews(ctx: RunContext) -> StepResult:
    settings = ReviewsSettings.from_settings(ctx.settings)
    warehouse = ctx.warehouse
    require_subjects_model(ctx)
    horizon = settings.refresh_horizon
    since = min(ctx.window_start, ctx.as_of - timedelta(days=horizon + 1))
    rows = schedule.read_candidates(warehouse, since)
    states = schedule.read_states(warehouse, since)
    enabled = [s for s in SOURCES if settings.is_enabled(s)]
    planned = schedule.plan(rows, states, ctx.as_of, ctx.window_start, settings, SOURCES)
    if ctx.limit is not None:
        planned = planned[: max(0, ctx.limit)]
    subjects, bad_subjects = subjects_from_rows((p.row for p in planned), ctx.as_of)
    due = {p.row["title_id"]: p.reasons for p in planned}
    due_per_source = Counter(source for p in planned for source in p.reasons if source in enabled)
    reasons = Counter(reason for p in planned for reason in p.reasons.values())
    total = len(subjects)
    ctx.progress(
        f"reviews: {total} title(s) due ({reasons.get('new', 0)} new fetches, {reasons.get('refresh', 0)} refreshes) "
        f"of {len(rows)} listed since {since}"
    )

    day = schedule.budget_day(settings, ctx.as_of)
    used_before = schedule.used_on(warehouse, day)
    remaining = {s: max(0, settings.daily_budget(s) - used_before.get(s, 0)) for s in SOURCES}
    reserved = schedule.reservation(settings, remaining, {s: due_per_source.get(s, 0) for s in SOURCES})
    if subjects:
        schedule.write_used(warehouse, day, {s: used_before.get(s, 0) + reserved[s] for s in SOURCES})

    def on_title_done(done: int) -> None:
        if done % settings.progress_every == 0 or done == total:
            ctx.progress(f"reviews: {done}/{total} titles fetched")

    def on_stop(source: str, reason: str) -> None:
        ctx.progress(f"reviews: {source} stopped for this run: {reason}")

    with HttpClient(settings) as client:
        for source in SOURCES:
            client.set_budget(source, reserved[source])
        harvester = Harvester(
            settings, client, ctx.as_of, on_title_done=on_title_done, due=due, states=states, on_stop=on_stop
        )
        try:
            source = reviews_source(
                subjects,
                settings=settings,
                as_of=ctx.as_of,
                harvester=harvester,
                quarantine_rows=bad_subjects,
            )
            if subjects or bad_subjects:
                warehouse.dlt_run(PIPELINE_NAME, RAW_REVIEWS, source)
        finally:
            harvester.close()
            spent = {s: client.source_stats(s).get("requests", 0) for s in SOURCES}
            if subjects:
                schedule.write_used(warehouse, day, {s: used_before.get(s, 0) + spent[s] for s in SOURCES})
        per_source = harvester.details()
        reviews_out = sum(harvester.selected_counts.values())
        quarantined = harvester.quarantined + len(bad_subjects)
        titles_with_reviews = harvester.titles_with_reviews
        stopped = dict(harvester.stopped)

    budget = {
        s: {
            "day": day.isoformat(),
            "daily_budget": settings.daily_budget(s),
            "used_before": used_before.get(s, 0),
            "reserved": reserved[s],
            "used": spent[s],
            "used_today": used_before.get(s, 0) + spent[s],
            "due": due_per_source.get(s, 0),
            "deferred": per_source[s]["deferred"],
        }
        for s in SOURCES
    }
    cache_hits = sum(d["cache_hits"] for d in per_source.values())
    ctx.progress(
        "reviews: "
        + ", ".join(
            f"{s} {d['requests']} req ({budget[s]['used_today']}/{budget[s]['daily_budget']} today), "
            f"{d['ok']} ok/{d['error']} err/{d['deferred']} deferred"
            for s, d in per_source.items()
        )
        + f"; {reviews_out} review(s) kept, {quarantined} quarantined"
        + "".join(f"; {s} STOPPED: {why}" for s, why in stopped.items())
    )
    return StepResult(
        step=STEP,
        rows_in=total,
        rows_out=reviews_out,
        quarantined=quarantined,
        cache_hits=cache_hits,
        details={
            "sources": per_source,
            "budget": budget,
            "stopped_sources": stopped,
            "titles_due": total,
            "fetches_due": dict(reasons),
            "titles_with_reviews": titles_with_reviews,
            "malformed_subjects": len(bad_subjects),
        },
    )
