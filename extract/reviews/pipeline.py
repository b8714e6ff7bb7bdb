"""Step ``extract_reviews``: reviews for the titles that became new in the run's window."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from extract.reviews.harvest import Harvester
from extract.reviews.http import HttpClient
from extract.reviews.models import Subject
from extract.reviews.settings import ReviewsSettings
from extract.reviews.source import reviews_source
from trending_now.context import RunContext, StepResult
from trending_now.warehouse import RAW_JUSTWATCH, RAW_REVIEWS, Warehouse

log = logging.getLogger(__name__)

STEP = "extract_reviews"
PIPELINE_NAME = "reviews"
TITLE_COLUMNS = (
    "id", "object_type", "title", "original_release_year", "imdb_id", "tmdb_id", "new_since",
    "show_id", "show_title", "show_tmdb_id", "show_imdb_id",
)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _year(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def subjects_from_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[list[Subject], int]:
    """Review subjects from ``raw_justwatch.titles`` rows, in row order, one per movie/show.

    A season is reviewed as its parent show (subject id = ``show_id``). A show listed both itself and
    through a season keeps its own row's data. Returns the subjects and the number of season rows that
    name no parent show (they cannot be reviewed).
    """
    subjects: dict[str, Subject] = {}
    from_season: set[str] = set()
    orphans = 0
    for row in rows:
        object_type = (_text(row.get("object_type")) or "").upper()
        node_id = _text(row.get("id")) or ""
        year = _year(row.get("original_release_year"))
        if object_type == "SHOW_SEASON" or node_id.startswith("tss"):
            show_id = _text(row.get("show_id"))
            title = _text(row.get("show_title"))
            if not show_id or not title:
                orphans += 1
                continue
            subject = Subject(
                title_id=show_id, content_type="show", title=title, year=year,
                tmdb_id=_text(row.get("show_tmdb_id")) or _text(row.get("tmdb_id")),
                imdb_id=_text(row.get("show_imdb_id")),
            )
            if show_id not in subjects:
                subjects[show_id] = subject
                from_season.add(show_id)
            continue
        title = _text(row.get("title"))
        if not node_id or not title:
            orphans += 1
            continue
        subject = Subject(
            title_id=node_id,
            content_type="show" if object_type == "SHOW" or node_id.startswith("ts") else "movie",
            title=title, year=year, tmdb_id=_text(row.get("tmdb_id")), imdb_id=_text(row.get("imdb_id")),
        )
        if node_id not in subjects or node_id in from_season:
            subjects[node_id] = subject
            from_season.discard(node_id)
    return list(subjects.values()), orphans


def read_title_rows(warehouse: Warehouse, window_start: Any, as_of: Any) -> list[dict[str, Any]]:
    """Rows of ``raw_justwatch.titles`` new in the window, newest first; [] when the table is absent."""
    if not warehouse.table_exists(RAW_JUSTWATCH, "titles"):
        return []
    present = {
        r["column_name"]
        for r in warehouse.fetch_all(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [RAW_JUSTWATCH, "titles"],
        )
    }
    select = ", ".join(c if c in present else f"null as {c}" for c in TITLE_COLUMNS)
    # movies and shows before seasons, so a show's own row wins over the one derived from a season
    return warehouse.fetch_all(
        f"select {select} from {RAW_JUSTWATCH}.titles "
        "where new_since between ? and ? "
        "order by new_since desc, case when object_type = 'SHOW_SEASON' then 1 else 0 end, id",
        [window_start, as_of],
    )


def extract_reviews(ctx: RunContext) -> StepResult:
    settings = ReviewsSettings.from_settings(ctx.settings)
    warehouse = ctx.warehouse
    rows = read_title_rows(warehouse, ctx.window_start, ctx.as_of)
    subjects, orphans = subjects_from_rows(rows)
    if ctx.limit is not None:
        subjects = subjects[: max(0, ctx.limit)]
    total = len(subjects)
    ctx.progress(f"reviews: {total} title(s) new between {ctx.window_start} and {ctx.as_of}")

    def on_title_done(done: int) -> None:
        if done % settings.progress_every == 0 or done == total:
            ctx.progress(f"reviews: {done}/{total} titles fetched")

    with HttpClient(settings) as client:
        harvester = Harvester(settings, client, ctx.as_of, on_title_done=on_title_done)
        try:
            source = reviews_source(subjects, settings=settings, as_of=ctx.as_of, harvester=harvester)
            if subjects:
                warehouse.dlt_run(PIPELINE_NAME, RAW_REVIEWS, source)
        finally:
            harvester.close()
        per_source = harvester.details()
        reviews_out = sum(harvester.selected_counts.values())
        quarantined = harvester.quarantined
        titles_with_reviews = harvester.titles_with_reviews

    cache_hits = sum(d["cache_hits"] for d in per_source.values())
    ctx.progress(
        "reviews: " + ", ".join(f"{s} {d['ok']} ok/{d['error']} err" for s, d in per_source.items())
        + f"; {reviews_out} review(s) kept, {quarantined} quarantined"
    )
    return StepResult(
        step=STEP,
        rows_in=total,
        rows_out=reviews_out,
        quarantined=quarantined,
        cache_hits=cache_hits,
        details={
            "sources": per_source,
            "titles_with_reviews": titles_with_reviews,
            "seasons_without_show": orphans,
        },
    )
