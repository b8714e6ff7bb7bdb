"""A day with malformed JustWatch nodes publishes every good title; the bad ones wait in quarantine with a reason.

The recorded-format samples with one page carrying several kinds of malformed nodes (null title, missing id,
release year 3000, unknown objectType, wrong-typed fields, a blank title) go through the real client against the
replay server and the real pipeline steps (dlt, dbt staging/intermediate with their tests, enrichment, dbt marts
with their tests, the Great Expectations gate) up to the published mart, on DuckDB and PostgreSQL.
Before the edge rules, the null title alone failed the day at ``not_null_stg_justwatch__titles_title``.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.config import PROJECT_ROOT
from core.context import RunContext
from core.replay import ReplayServer
from tests.conftest import DEMO_AS_OF
from trending_now import pipeline
from trending_now.cli import replay_settings

pytestmark = pytest.mark.slow

PAGE = "justwatch/new_titles_2026-11-18_p1.json"
CATALOG = json.loads((PROJECT_ROOT / "data/samples/justwatch/catalog.json").read_text())
GOOD_IDS = {entry["show_id"] or entry["id"] for entry in CATALOG}  # seasons fold into their show
MART = "marts.movies_tv_shows_enriched"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(node: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target = node
        for key in parents:
            target = target[key]
        target[leaf] = value
    return mutate


# (node id, object id, mutation, what the quarantine reason says)
MALFORMED: list[tuple[str | None, int, Callable[[dict[str, Any]], None], str]] = [
    ("tm990001", 990001, _set("content.title", None), "title is missing"),
    (None, 990002, lambda node: node.pop("id"), "id: Field required"),
    ("tm990003", 990003, _set("content.originalReleaseYear", 3000), "original_release_year 3000 is above "),
    ("tse990004", 990004, _set("objectType", "SHOW_EPISODE"), "unsupported objectType 'SHOW_EPISODE'"),
    ("tm990005", 990005, _set("content.runtime", "two hours"), "content.runtime: Input should be a valid integer"),
    ("tm990006", 990006, _set("content.title", "   "), "title is missing"),
]


def _samples_with_malformed_nodes(tmp: Path) -> Path:
    """A copy of data/samples whose 2026-11-18 page also carries one node of each malformed kind."""
    samples = tmp / "samples"
    shutil.copytree(PROJECT_ROOT / "data/samples", samples)
    page = json.loads((samples / PAGE).read_text())
    edges = page["data"]["newTitles"]["edges"]
    movie = next(e for e in edges if isinstance(e.get("node"), dict) and e["node"].get("objectType") == "MOVIE")
    for node_id, object_id, mutate, _ in MALFORMED:
        edge = copy.deepcopy(movie)
        edge["node"].update(id=node_id, objectId=object_id)
        edge["node"]["content"]["fullPath"] = f"/us/movie/malformed-{object_id}"
        edge["cursor"] = f"malformed-{object_id}"
        mutate(edge["node"])
        edges.append(edge)
    page["data"]["newTitles"]["totalCount"] = len(edges)
    (samples / PAGE).write_text(json.dumps(page, indent=1))
    return samples


def check_quarantined(ctx: RunContext) -> None:
    """Each malformed node quarantined once under its id (when it has one), naming the broken rule."""
    quarantine = ctx.warehouse.fetch_all("select entity_id, reason, payload, as_of_date from raw_justwatch.quarantine")
    assert len(quarantine) == 1 + len(MALFORMED)
    for node_id, object_id, _, reason_part in MALFORMED:
        [row] = [q for q in quarantine if json.loads(q["payload"])["node"].get("objectId") == object_id]
        assert row["entity_id"] == node_id and reason_part in row["reason"], row
        assert str(row["as_of_date"]) == DEMO_AS_OF.isoformat()


def check_only_good_titles(ctx: RunContext) -> None:
    """No malformed node reached the raw titles; every good title is published."""
    bad_ids = {node_id for node_id, *_ in MALFORMED if node_id}
    raw_ids = {r["id"] for r in ctx.warehouse.fetch_all("select id from raw_justwatch.titles")}
    assert not raw_ids & bad_ids and len(raw_ids) == 46
    published = {r["id"] for r in ctx.warehouse.fetch_all(f"select id from {MART}")}
    assert published == GOOD_IDS


@pytest.mark.parametrize("target", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_malformed_nodes_are_quarantined_and_every_good_title_is_published(
    target: str, request: pytest.FixtureRequest, tmp_path: Path, make_settings: Callable[..., Any],
) -> None:
    if target == "postgres":
        request.getfixturevalue("pg_database")
    with ReplayServer(_samples_with_malformed_nodes(tmp_path)) as server:
        settings = replay_settings(make_settings({"enrich.provider": "heuristic"}), server.settings_overrides(),
                                   target)
        ctx = RunContext(settings=settings, as_of=DEMO_AS_OF, quiet=True)
        steps = pipeline.STEPS[: pipeline.STEP_NAMES.index("publish_mart") + 1]
        records = {r.result.step: r for r in pipeline.run_steps(ctx, steps)}
        assert not [m for m in server.misses if "/justwatch/" in m]

    assert {name: r.status for name, r in records.items()} == {step.name: "ok" for step in steps}
    extract = records["extract_releases"].result
    assert (extract.rows_out, extract.quarantined) == (46, 1 + len(MALFORMED))

    check_quarantined(ctx)

    check_only_good_titles(ctx)
