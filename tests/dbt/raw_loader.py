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

EXTRACTED_AT = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)

# Column hints so every contract column exists even when a load has only nulls in it
# (dlt creates columns from data otherwise). The extract/enrich steps declare the same.
TITLE_COLUMNS: dict[str, dict[str, Any]] = {
    "id": {"data_type": "text", "nullable": False},
    "object_type": {"data_type": "text"},
    "object_id": {"data_type": "bigint"},
    "title": {"data_type": "text"},
    "original_title": {"data_type": "text"},
    "original_release_year": {"data_type": "bigint"},
    "original_release_date": {"data_type": "text"},
    "runtime_minutes": {"data_type": "bigint"},
    "short_description": {"data_type": "text"},
    "age_certification": {"data_type": "text"},
    "full_path": {"data_type": "text"},
    "original_language": {"data_type": "text"},
    "imdb_id": {"data_type": "text"},
    "tmdb_id": {"data_type": "text"},
    "imdb_score": {"data_type": "double"},
    "tomato_meter": {"data_type": "bigint"},
    "season_number": {"data_type": "bigint"},
    "show_id": {"data_type": "text"},
    "show_title": {"data_type": "text"},
    "show_full_path": {"data_type": "text"},
    "show_tmdb_id": {"data_type": "text"},
    "show_imdb_id": {"data_type": "text"},
    "country": {"data_type": "text"},
    "new_since": {"data_type": "date"},
    "new_offer_package": {"data_type": "text"},
    "extracted_at": {"data_type": "timestamp"},
}
REVIEW_COLUMNS: dict[str, dict[str, Any]] = {
    "title_id": {"data_type": "text", "nullable": False},
    "source": {"data_type": "text", "nullable": False},
    "review_key": {"data_type": "text", "nullable": False},
    "author": {"data_type": "text"},
    "review_text": {"data_type": "text"},
    "original_score": {"data_type": "text"},
    "score_normalized": {"data_type": "double"},
    "review_url": {"data_type": "text"},
    "published_at": {"data_type": "timestamp"},
    "extracted_at": {"data_type": "timestamp"},
}
FETCH_COLUMNS: dict[str, dict[str, Any]] = {
    "title_id": {"data_type": "text", "nullable": False},
    "source": {"data_type": "text", "nullable": False},
    "status": {"data_type": "text"},
    "reason": {"data_type": "text"},
    "reviews_found": {"data_type": "bigint"},
    "fetched_at": {"data_type": "timestamp"},
}
ENRICHMENT_COLUMNS: dict[str, dict[str, Any]] = {
    "id": {"data_type": "text", "nullable": False},
    "source_data_hash": {"data_type": "text", "nullable": False},
    "prompt_version": {"data_type": "text", "nullable": False},
    "model": {"data_type": "text", "nullable": False},
    "provider": {"data_type": "text"},
    "status": {"data_type": "text"},
    "review_summary": {"data_type": "text"},
    "score": {"data_type": "double"},
    "vibe_tags": {"data_type": "text"},
    "primary_genre": {"data_type": "text"},
    "secondary_genres": {"data_type": "text"},
    "input_tokens": {"data_type": "bigint"},
    "output_tokens": {"data_type": "bigint"},
    "cost_usd": {"data_type": "double"},
    "latency_ms": {"data_type": "double"},
    "error": {"data_type": "text"},
    "enriched_at": {"data_type": "timestamp"},
}


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
            vibe_tags="tense, witty", primary_genre="Science-Fiction", secondary_genres="Drama, Action & Adventure",
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

    def _run(self, dataset: str, table: str, rows: Iterable[Mapping[str, Any]], primary_key: list[str],
             columns: dict[str, dict[str, Any]]) -> None:
        pipeline = dlt.pipeline(
            pipeline_name=f"{self.name}_{dataset}",
            destination=self.destination,
            dataset_name=dataset,
            pipelines_dir=str(self.pipelines_dir),
        )
        pipeline.run(
            list(rows), table_name=table, write_disposition="merge", primary_key=primary_key,
            columns=[{"name": name, **hint} for name, hint in columns.items()],
        ).raise_on_failed_jobs()

    def titles(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._run("raw_justwatch", "titles", rows, ["id"], TITLE_COLUMNS)

    def reviews(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._run("raw_reviews", "reviews", rows, ["title_id", "source", "review_key"], REVIEW_COLUMNS)

    def review_fetches(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._run("raw_reviews", "review_fetches", rows, ["title_id", "source"], FETCH_COLUMNS)

    def enrichments(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._run("raw_enrichment", "title_enrichments", rows,
                  ["id", "source_data_hash", "prompt_version", "model"], ENRICHMENT_COLUMNS)
