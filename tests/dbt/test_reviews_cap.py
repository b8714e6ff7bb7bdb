"""`reviews.max_reviews` holds downstream: the latest N reviews per title and source, in the enrichment input
(the prompt) and in the mart alike, however many reviews raw_reviews accumulates. DuckDB and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import pytest
import yaml

from core.config import PROJECT_ROOT, load_settings
from core.warehouse import Warehouse
from enrich.inputs import parse_reviews
from tests.dbt.dbt_helpers import AFTER_ENRICHMENT, BEFORE_ENRICHMENT, DBT_PROJECT_DIR, run_dbt
from tests.dbt.raw_loader import (
    RawLoader,
    enrichment_record,
    review_record,
    sample_review_fetches,
    sample_reviews,
    sample_titles,
)

pytestmark = pytest.mark.slow
CAP = 3
TITLE = "tm1001"


def many_reviews(days: range, source: str = "tmdb") -> list[dict[str, Any]]:
    """One review of ``TITLE`` per day of November (newer day = newer review)."""
    return [
        review_record(TITLE, source, f"{source}-{day:02d}", f"{source} review of November {day}.",
                      author=f"critic {day}", original_score="7.0", score_normalized=7.0,
                      published_at=datetime(2026, 11, day, tzinfo=UTC))
        for day in days
    ]


def texts(scraped_reviews: str, source: str) -> list[str]:
    return [r.review_text for r in parse_reviews(scraped_reviews) if r.source_name == source]


def check_cap(loader: RawLoader, dbt: Callable[[list[str]], Any], fetch: Callable[[str], list[dict[str, Any]]]) -> None:
    """9 TMDB reviews and 4 Guardian reviews of one title, capped at 3 per source; then newer ones arrive."""
    loader.titles(sample_titles())  # the samples hold one RogerEbert and one TMDB review (Nov 10) of TITLE
    loader.reviews([*sample_reviews(), *many_reviews(range(11, 19)), *many_reviews(range(11, 15), "guardian")])
    loader.review_fetches(sample_review_fetches())

    def prompt_and_mart() -> tuple[str, str]:
        dbt(BEFORE_ENRICHMENT)
        inputs = {r["id"]: r for r in fetch("select * from marts.titles_enrichment_input")}
        schemas = {r["s"] for r in fetch("select schema_name as s from information_schema.schemata")}
        done = {r["h"] for r in fetch("select source_data_hash as h from raw_enrichment.title_enrichments")} \
            if "raw_enrichment" in schemas else set()
        loader.enrichments([enrichment_record(i, r["source_data_hash"]) for i, r in inputs.items()
                            if r["source_data_hash"] not in done])
        dbt(AFTER_ENRICHMENT)
        mart = {r["id"]: r for r in fetch("select id, scraped_reviews from marts.movies_tv_shows_enriched")}
        return inputs[TITLE]["scraped_reviews"], mart[TITLE]["scraped_reviews"]

    prompt, published = prompt_and_mart()
    assert json.loads(prompt) == json.loads(published)  # the prompt and the mart read the same capped set
    assert texts(prompt, "tmdb") == [f"tmdb review of November {d}." for d in (18, 17, 16)]  # newest first
    assert texts(prompt, "guardian") == [f"guardian review of November {d}." for d in (14, 13, 12)]
    assert len(texts(prompt, "rogerebert")) == 1  # a source under the cap keeps everything

    loader.reviews(many_reviews(range(25, 27)))  # two newer TMDB reviews: raw grows, the capped set moves
    prompt, published = prompt_and_mart()
    assert json.loads(prompt) == json.loads(published)
    assert texts(prompt, "tmdb") == [f"tmdb review of November {d}." for d in (26, 25, 18)]
    assert len(parse_reviews(published)) == 3 + 3 + 1  # tmdb, guardian, rogerebert
    raw_count = fetch(f"select count(*) as n from raw_reviews.reviews where title_id = '{TITLE}'")[0]["n"]
    assert raw_count == 2 + 8 + 4 + 2  # raw keeps every review


def test_fallback_equals_the_setting() -> None:
    """dbt's fallback for a run outside the pipeline is config/base.yaml's ``reviews.max_reviews``."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    match = re.fullmatch(r"\{\{\s*env_var\('TRENDING_NOW__REVIEWS__MAX_REVIEWS',\s*'(\d+)'\)\s*\}\}",
                         project["vars"]["max_reviews"])
    assert match, project["vars"]["max_reviews"]
    base = load_settings("dev", root=PROJECT_ROOT, environ={})
    assert int(match.group(1)) == int(base.get("reviews.max_reviews"))


def test_cap_on_duckdb(tmp_path: Path, make_settings: Callable[..., Any]) -> None:
    db = tmp_path / "warehouse.duckdb"
    loader = RawLoader(dlt.destinations.duckdb(credentials=str(db)), tmp_path / ".dlt")
    warehouse = Warehouse(make_settings({"warehouse.duckdb_path": str(db)}))
    env = {"TRENDING_NOW_DUCKDB_PATH": str(db), "TRENDING_NOW__REVIEWS__MAX_REVIEWS": str(CAP)}
    check_cap(loader, lambda args: run_dbt(args, target="duckdb", work_dir=tmp_path, env=env), warehouse.fetch_all)


@pytest.mark.postgres
def test_cap_on_postgres(pg_database: str, tmp_path: Path, make_settings: Callable[..., Any]) -> None:
    destination = dlt.destinations.postgres(credentials={
        "database": pg_database, "username": os.environ["PGUSER"], "password": os.environ["PGPASSWORD"],
        "host": os.environ["PGHOST"], "port": int(os.environ["PGPORT"]),
    })
    loader = RawLoader(destination, tmp_path / ".dlt", name="reviews_cap_pg")
    warehouse = Warehouse(make_settings({"warehouse.target": "postgres"}))
    env = {"TRENDING_NOW__REVIEWS__MAX_REVIEWS": str(CAP)}
    check_cap(loader, lambda args: run_dbt(args, target="postgres", work_dir=tmp_path, env=env), warehouse.fetch_all)
