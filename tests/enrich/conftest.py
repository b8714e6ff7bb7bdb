"""Fixtures for the enrichment tests: the Gemini fake, seeded enrichment inputs, settings bound to both."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from core.config import Secrets, Settings
from core.warehouse import Warehouse
from enrich import runner
from tests.fakes.gemini_server import FakeGemini

INPUT_DDL = """create table marts.titles_enrichment_input (
    id text, title text, content_type text, release_year integer, synopsis text,
    source_genres text, scraped_reviews text, source_data_hash text)"""


def input_row(index: int, **overrides: Any) -> dict[str, Any]:
    """A realistic enrichment-input row; reviews vary with ``index`` (every fourth title has none)."""
    reviews = [] if index % 4 == 3 else [
        {"source_name": "tmdb", "author": f"critic{index}",
         "review_text": f"Title number {index} is a gripping, dark thriller with a stunning finale. "
                        "The lead performance carries every scene.",
         "original_score": "8.0", "score_normalized": 8.0, "review_url": f"https://example.org/r/{index}"},
        {"source_name": "guardian", "author": "Guardian staff",
         "review_text": "A slow but rewarding watch. It lingers long after the credits roll.",
         "original_score": "4/5", "score_normalized": 8.0 if index % 2 else 6.0, "review_url": None},
    ]
    row = {
        "id": f"tm{1000 + index}",
        "title": f"Title {index}",
        "content_type": "TV Show" if index % 3 == 0 else "Movie",
        "release_year": 2026,
        "synopsis": f"A detective investigates case {index} in a city that keeps its secrets.",
        "source_genres": "trl,crm,drm",
        "scraped_reviews": json.dumps(reviews),
        "source_data_hash": f"hash-{index}",
    }
    row.update(overrides)
    return row


def seed_inputs(settings: Settings, rows: list[dict[str, Any]]) -> None:
    """(Re)create ``marts.titles_enrichment_input`` with ``rows`` in the test warehouse."""
    wh = Warehouse(settings)
    wh.execute("create schema if not exists marts")
    wh.execute("drop table if exists marts.titles_enrichment_input")
    wh.execute(INPUT_DDL)
    cols = ["id", "title", "content_type", "release_year", "synopsis", "source_genres", "scraped_reviews",
            "source_data_hash"]
    wh.executemany(
        f"insert into marts.titles_enrichment_input ({', '.join(cols)}) "
        f"values ({', '.join('?' for _ in cols)})",
        [[r[c] for c in cols] for r in rows],
    )


def enrichment_rows(settings: Settings) -> list[dict[str, Any]]:
    return Warehouse(settings).fetch_all(
        "select * from raw_enrichment.title_enrichments order by id, prompt_version, model"
    )


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retry waits the runner asked for, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(runner, "_sleep", waits.append)
    return waits


@pytest.fixture
def gemini_settings(make_settings: Callable[..., Settings], fake_gemini: FakeGemini) -> Callable[..., Settings]:
    """Settings for the gemini provider pointed at the fake, with a test key and small flush chunks."""

    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "enrich.provider": "gemini",
            "enrich.base_url": fake_gemini.base_url,
            "enrich.api_version": "v1beta",
            "enrich.concurrency": 2,
            "enrich.requests_per_minute": 0,
            "enrich.max_retries": 3,
            "enrich.backoff_base_s": 0.01,
            "enrich.max_backoff_s": 0.05,
            "enrich.flush_every": 3,
            "enrich.timeout_s": 10,
        }
        values.update({k.replace("__", "."): v for k, v in overrides.items()})
        settings = make_settings(values)
        settings.secrets = Secrets({"GEMINI_API_KEY": "test-key-not-real"}, source="test")
        return settings

    return factory
