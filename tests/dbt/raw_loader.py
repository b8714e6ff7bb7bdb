"""Raw records shaped exactly like docs/raw-tables.md, loaded with dlt itself.

Loading through dlt (merge on the contract's primary keys) means the child tables
(``titles__genres``, ``titles__credits``, ...) and the ``_dlt_*`` columns are exactly what the
extract and enrich steps produce. Used by the dbt tests and by ``bench/bench_dbt.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dlt

from core import raw_spec
from core.raw_spec import Table

EXTRACTED_AT = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)

# Column hints so every contract column exists even when a load has only nulls in it (dlt creates columns
# from data otherwise): the same hints the extract and enrich steps derive from the spec.
TITLE_COLUMNS = raw_spec.dlt_columns(raw_spec.TITLES)
REVIEW_COLUMNS = raw_spec.dlt_columns(raw_spec.REVIEWS)
FETCH_COLUMNS = raw_spec.dlt_columns(raw_spec.REVIEW_FETCHES)
ENRICHMENT_COLUMNS = raw_spec.dlt_columns(raw_spec.TITLE_ENRICHMENTS)


def _credit(role: str, name: str, character: str | None = None) -> dict[str, Any]:
    return {"role": role, "name": name, "character_name": character}


def _offer(package: str, short: str, monetization: str = "FLATRATE") -> dict[str, Any]:
    return {
        "monetization_type": monetization,
        "presentation_type": "HD",
        "package_clear_name": package,
        "package_short_name": short,
    }


def title_record(node_id: str, object_type: str, title: str, **fields: Any) -> dict[str, Any]:
    """A ``raw_justwatch.titles`` record with every contract column (nulls where not given)."""
    record: dict[str, Any] = {name: None for name in TITLE_COLUMNS}
    record.update(
        id=node_id,
        object_type=object_type,
        object_id=int("".join(ch for ch in node_id if ch.isdigit()) or 0),
        title=title,
        original_title=title,
        country="US",
        new_since=date(2026, 11, 18),
        extracted_at=EXTRACTED_AT,
        genres=[],
        production_countries=[],
        credits=[],
        offers=[],
    )
    record.update(fields)
    return record


def sample_titles() -> list[dict[str, Any]]:
    """A movie, a show, a season of that show, a season whose show is not listed, a pending movie."""
    return [
        title_record(
            "tm1001", "MOVIE", "Predator: Badlands",
            original_release_year=2025, original_release_date="2025-11-07", runtime_minutes=107,
            short_description="A young Predator outcast finds an unlikely ally.",
            age_certification="PG-13", full_path="/us/movie/predator-badlands", original_language="en",
            imdb_id="tt31227572", tmdb_id="1242898", imdb_score=7.4, tomato_meter=85,
            new_offer_package="Hulu",
            genres=["act", "scf", "act"], production_countries=["US", "NZ"],
            credits=[
                _credit("ACTOR", "Elle Fanning", "Thia"),
                _credit("ACTOR", 'Dimitrius "Dek" Koloamatangi', "Dek"),
                _credit("DIRECTOR", "Dan Trachtenberg"),
            ],
            offers=[_offer("Hulu", "hlu"), _offer("Disney Plus", "dnp"), _offer("Hulu", "hlu", "ADS")],
        ),
        title_record(
            "ts2001", "SHOW", "Pluribus",
            original_release_year=2025, original_release_date="2025-11-07", runtime_minutes=55,
            short_description="The most miserable person on Earth must save the world from happiness.",
            age_certification="TV-MA", full_path="/us/tv-show/pluribus", original_language="en",
            imdb_id="tt22202452", tmdb_id="225171", imdb_score=8.3, tomato_meter=98,
            genres=["drm", "scf"], production_countries=["US"],
            credits=[_credit("ACTOR", "Rhea Seehorn", "Carol Sturka"), _credit("DIRECTOR", "Vince Gilligan")],
            offers=[_offer("Apple TV", "atp")],
        ),
        title_record(
            "tss2002", "SHOW_SEASON", "Season 1",
            original_release_year=2025, original_release_date="2025-11-07", runtime_minutes=55,
            short_description="Season one.", full_path="/us/tv-show/pluribus/season-1",
            tmdb_id="225171:1", season_number=1,
            show_id="ts2001", show_title="Pluribus", show_full_path="/us/tv-show/pluribus",
            show_tmdb_id="225171", show_imdb_id="tt22202452",
            genres=["scf", "trl"], production_countries=["US"],
            credits=[_credit("ACTOR", "Rhea Seehorn", "Carol Sturka"), _credit("ACTOR", "Karolina Wydra", "Zosia")],
            offers=[_offer("Apple TV", "atp"), _offer("Amazon Video", "amz", "BUY")],
        ),
        title_record(
            "tss3005", "SHOW_SEASON", "Season 5",
            original_release_year=2025, original_release_date="2025-09-24", runtime_minutes=48,
            short_description="Slough House is drawn into a deadly chain of events.\nRiver investigates.",
            age_certification="TV-MA", full_path="/us/tv-show/slow-horses/season-5", original_language="en",
            tmdb_id="95480:5", imdb_score=8.2, tomato_meter=100, season_number=5,
            show_id="ts3001", show_title="Slow Horses", show_full_path="/us/tv-show/slow-horses",
            show_tmdb_id="95480", show_imdb_id="tt5875444",
            genres=["drm", "trl", "eur"], production_countries=["GB"],
            credits=[_credit("ACTOR", "Gary Oldman", "Jackson Lamb"), _credit("DIRECTOR", "Saul Metzstein")],
            offers=[_offer("Apple TV", "atp")],
        ),
        title_record(
            "tm4001", "MOVIE", "Pending Picture",
            original_release_year=2026, original_release_date="2026-11-14", runtime_minutes=120,
            short_description="A film whose enrichment failed.", full_path="/us/movie/pending-picture",
            genres=["cmy"], offers=[_offer("Netflix", "nfx")],
        ),
    ]


def review_record(title_id: str, source: str, key: str, text: str, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {name: None for name in REVIEW_COLUMNS}
    record.update(
        title_id=title_id, source=source, review_key=key, review_text=text,
        review_url=key if key.startswith("http") else None,
        published_at=datetime(2026, 11, 10, tzinfo=UTC), extracted_at=EXTRACTED_AT,
    )
    record.update(fields)
    return record


def sample_reviews() -> list[dict[str, Any]]:
    """Reviews with quotes, backslashes, newlines and tabs in their text."""
    return [
        review_record(
            "tm1001", "rogerebert", "https://www.rogerebert.com/reviews/predator-badlands",
            'A "Predator" film that finally asks who the hunter is.\nC:\\Films\\Predator\tis a path.',
            author="Brian Tallerico", original_score="3/4", score_normalized=7.5,
        ),
        review_record(
            "tm1001", "tmdb", "https://www.themoviedb.org/review/abc",
            "Fun! It's \\o/ \"wild\" \u00e9t\u00e9 \U0001f600 and \x01odd.", author="moviefan",
            original_score="8.0", score_normalized=8.0,
        ),
        review_record("ts2001", "guardian", "https://www.theguardian.com/tv/pluribus", "Gilligan's best.",
                      author="Lucy Mangan", original_score="5/5", score_normalized=10.0),
        review_record("ts3001", "tmdb", "sha1-slow", "Lamb is a delight.", author=None,
                      original_score=None, score_normalized=None),
    ]


def sample_review_fetches() -> list[dict[str, Any]]:
    rows = []
    for title_id in ("tm1001", "ts2001", "ts3001", "tm4001"):
        for source in ("tmdb", "rogerebert", "guardian"):
            rows.append({
                "title_id": title_id, "source": source, "status": "ok", "reason": None,
                "reviews_found": 1, "fetched_at": EXTRACTED_AT,
            })
    return rows


def enrichment_record(title_id: str, source_data_hash: str, status: str = "ok", **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {name: None for name in ENRICHMENT_COLUMNS}
    record.update(
        id=title_id, source_data_hash=source_data_hash, prompt_version="v1", model="heuristic-v1",
        provider="heuristic", status=status, input_tokens=0, output_tokens=0, cost_usd=0.0,
        latency_ms=1.5, enriched_at=datetime(2026, 11, 20, 7, 0, tzinfo=UTC),
    )
    if status == "ok":
        record.update(
            review_summary="Critics praise it. The tone is tense.", score=7.8,
            vibe_tags="suspenseful, funny", primary_genre="Science-Fiction", secondary_genres="Drama, Action & Adventure",
        )
    else:
        record.update(error="response did not match the schema")
    record.update(fields)
    return record


class RawLoader:
    """Loads raw tables into one warehouse with dlt, the way the pipeline's steps do."""

    def __init__(self, destination: Any, pipelines_dir: Path, name: str = "dbt_tests") -> None:
        self.destination = destination
        self.pipelines_dir = pipelines_dir
        self.name = name

    def _run(self, spec: Table, rows: Iterable[Mapping[str, Any]]) -> None:
        pipeline = dlt.pipeline(
            pipeline_name=f"{self.name}_{spec.schema}",
            destination=self.destination,
            dataset_name=spec.schema,
            pipelines_dir=str(self.pipelines_dir),
        )
        pipeline.run(
            list(rows), table_name=spec.name, write_disposition="merge", primary_key=list(spec.primary_key),
            columns=list(raw_spec.dlt_columns(spec).values()),
        ).raise_on_failed_jobs()

    def titles(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._run(raw_spec.TITLES, rows)

    def reviews(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._run(raw_spec.REVIEWS, rows)

    def review_fetches(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._run(raw_spec.REVIEW_FETCHES, rows)

    def enrichments(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._run(raw_spec.TITLE_ENRICHMENTS, rows)
