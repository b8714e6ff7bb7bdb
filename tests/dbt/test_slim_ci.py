"""Slim CI on the real PostgreSQL (``scripts/deploy.py ci-build``): production is a build of main into one
database; a change builds exactly its models and their children into the change's schemas, reading every
unmodified parent from production, and leaves every production relation untouched; a breaking contract
change fails unless it is a new model version; ``--cleanup`` drops the change's schemas."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import dlt
import pytest

from core.config import PROJECT_ROOT
from tests.dbt.dbt_helpers import AFTER_ENRICHMENT, BEFORE_ENRICHMENT, DBT_PROJECT_DIR, run_dbt
from tests.dbt.raw_loader import (
    RawLoader,
    enrichment_record,
    sample_review_fetches,
    sample_reviews,
    sample_titles,
)
from tests.dbt.test_dbt_build_postgres import pg_query

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import slim_ci

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SCHEMA = "ci_pr_7"
PRODUCTION_SCHEMAS = ("staging", "intermediate", "marts", "marts_audit", "raw_justwatch", "raw_reviews",
                      "raw_enrichment", "dbt_test__audit")  # fmt: skip
CHANGED = "int_titles_platforms_aggregated"


def copy_project(dst: Path, edit: Callable[[Path], None]) -> Path:
    shutil.copytree(
        DBT_PROJECT_DIR, dst, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml")
    )
    edit(dst)
    return dst


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path.name} no longer has {old!r}: update the test's change"
    path.write_text(text.replace(old, new), encoding="utf-8")


def ci_build_cli(argv: list[str]) -> tuple[int, str]:
    """``scripts/deploy.py <argv>`` as its parser reads it (slim_ci's registration), in-process."""
    parser = argparse.ArgumentParser(prog="scripts/deploy.py")
    slim_ci.add_subcommand(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    out = io.StringIO()
    with redirect_stdout(out):
        code = args.func(args)
    return code, out.getvalue()


def relations(
    schemas: tuple[str, ...] | None = None, prefix: str | None = None
) -> dict[tuple[str, str], Any]:
    """(schema, name) -> the relation's oid, for the given schemas or those starting with ``prefix``."""
    rows = pg_query(
        "select n.nspname as schema, c.relname as name, c.oid::bigint as oid from pg_class c "
        "join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r', 'v', 'm')"
    )
    return {
        (r["schema"], r["name"]): r["oid"]
        for r in rows
        if (schemas and r["schema"] in schemas) or (prefix and r["schema"].startswith(prefix))
    }


def children(manifest: dict[str, Any], unique_id: str) -> set[str]:
    """The model and its descendant models, from production's manifest (dbt's child_map)."""
    found, todo = {unique_id}, [unique_id]
    while todo:
        for child in manifest["child_map"][todo.pop()]:
            if child.startswith("model.") and child not in found:
                found.add(child)
                todo.append(child)
    return found


@pytest.fixture
def production(pg_database: str, tmp_path: Path) -> Path:
    """The pipeline's two builds of main on one database, with enrichments between them; its target folder
    (the deployed manifest)."""
    destination = dlt.destinations.postgres(credentials={
        "database": pg_database, "username": os.environ["PGUSER"], "password": os.environ["PGPASSWORD"],
        "host": os.environ["PGHOST"], "port": int(os.environ["PGPORT"]),
    })  # fmt: skip
    loader = RawLoader(destination, tmp_path / ".dlt", name="slim_ci_pg")
    loader.titles(sample_titles())
    loader.reviews(sample_reviews())
    loader.review_fetches(sample_review_fetches())
    work = tmp_path / "production"
    run_dbt(BEFORE_ENRICHMENT, target="postgres", work_dir=work)
    inputs = pg_query("select id, source_data_hash from marts.titles_enrichment_input")
    loader.enrichments([enrichment_record(r["id"], r["source_data_hash"]) for r in inputs])
    run_dbt(AFTER_ENRICHMENT, target="postgres", work_dir=work)
    return work / "target"


def test_ci_build_builds_the_change_and_its_children_beside_production(
    production: Path, tmp_path: Path
) -> None:
    manifest = json.loads((production / "manifest.json").read_text(encoding="utf-8"))
    before = relations(PRODUCTION_SCHEMAS)
    published = pg_query("select * from marts.movies_tv_shows_enriched order by id")
    assert {r["id"]: r["streaming_platforms"] for r in published}["ts2001"] == "Amazon Video, Apple TV"

    # the change: one intermediate model leaves out one title's platforms
    change = copy_project(tmp_path / "change", lambda p: replace(
        p / "models" / "intermediate" / f"{CHANGED}.sql", "select * from final", "select * from final where title_id <> 'ts2001'"))  # fmt: skip
    code, out = ci_build_cli(["ci-build", "--target", "postgres", "--state", str(production), "--schema", SCHEMA,
                              "--project-dir", str(change), "--target-path", str(tmp_path / "ci")])  # fmt: skip
    assert code == 0, out
    expected = children(manifest, f"model.trending_now.{CHANGED}")
    check_selected_and_printed(manifest, expected, out)
    check_built_beside_production(manifest, expected, published)

    # production untouched: the same relations (same oids: none rebuilt), the same published rows
    assert relations(PRODUCTION_SCHEMAS) == before
    assert pg_query("select * from marts.movies_tv_shows_enriched order by id") == published

    check_a_new_version(production, tmp_path, before)
    check_a_breaking_change_fails_and_cleans_up(production, tmp_path, before, published)


def check_selected_and_printed(manifest: dict[str, Any], expected: set[str], out: str) -> None:
    """The change's children are selected; printed: every selected model with its CI relation, the unit test
    of the audit relation, and the build's statuses."""
    assert {n["unique_id"].split(".")[2] for n in map(manifest["nodes"].get, expected)} >= {
        CHANGED,
        "int_titles_prepared",
        "movies_tv_shows_enriched_audit",
        "movies_tv_shows_enriched",
    }
    printed = [f"{u} -> {SCHEMA}_{manifest['nodes'][u]['schema']}.{manifest['nodes'][u]['alias']}" for u in expected]
    assert [line for line in printed if line not in out] == []
    assert "unit_test" in out and "test_incremental_merge_emits_only_new_and_changed_rows" in out
    statuses = json.loads(out.split("dbt build: ", 1)[1].splitlines()[0])
    assert set(statuses) <= {"success", "pass", "no-op"} and statuses["pass"] > 20, statuses  # no-op: hooks


def check_built_beside_production(
    manifest: dict[str, Any], expected: set[str], published: list[dict[str, Any]]
) -> None:
    """Exactly the change and its children, in the change's schemas (stored test failures aside); every
    unmodified parent is production's (--defer)."""
    built = {k for k in relations(prefix=f"{SCHEMA}_") if k[0] != f"{SCHEMA}_dbt_test__audit"}
    assert built == {
        (f"{SCHEMA}_{manifest['nodes'][u]['schema']}", manifest["nodes"][u]["alias"]) for u in expected
    }
    # the CI view reads production's staging
    view = pg_query(
        f"select definition from pg_views where schemaname = '{SCHEMA}_intermediate' and viewname = '{CHANGED}'"
    )
    assert "staging.stg_justwatch__title_offers" in view[0]["definition"]
    assert f"{SCHEMA}_staging" not in view[0]["definition"]
    ci_mart = {r["id"]: r for r in pg_query(f"select * from {SCHEMA}_marts.movies_tv_shows_enriched")}
    assert sorted(ci_mart) == [r["id"] for r in published]
    assert ci_mart["ts2001"]["streaming_platforms"] is None


def _add_v2(project: Path) -> None:
    marts = project / "models" / "marts"
    shutil.copy(marts / "movies_tv_shows_enriched.sql", marts / "movies_tv_shows_enriched_v2.sql")
    replace(marts / "_marts__models.yml", "          alias: movies_tv_shows_enriched\n",
            "          alias: movies_tv_shows_enriched\n      - v: 2\n        columns:\n          - include: all\n"
            "            exclude: [rotten_tomatoes_rating]\n")  # fmt: skip


def check_a_new_version(production: Path, tmp_path: Path, before: Any) -> None:
    """The same column dropped as a new version (v2 beside v1): built and tested in the change's schemas."""
    versioned = copy_project(tmp_path / "versioned", _add_v2)
    code, out = ci_build_cli(["ci-build", "--target", "postgres", "--state", str(production), "--schema", SCHEMA,
                              "--project-dir", str(versioned), "--target-path", str(tmp_path / "ci2")])  # fmt: skip
    assert code == 0, out
    models = {line.split()[1] for line in out.splitlines() if line.strip().startswith("model ")}
    assert models == {"model.trending_now.movies_tv_shows_enriched.v2"}
    columns = [r["column_name"] for r in pg_query(
        f"select column_name from information_schema.columns where table_schema = '{SCHEMA}_marts' "
        "and table_name = 'movies_tv_shows_enriched_v2' order by ordinal_position")]  # fmt: skip
    assert columns and "rotten_tomatoes_rating" not in columns and "llm_generated_score" in columns
    assert relations(PRODUCTION_SCHEMAS) == before


def _drop_v1_column(project: Path) -> None:
    replace(project / "models" / "marts" / "_marts__models.yml", "          alias: movies_tv_shows_enriched\n",
            "          alias: movies_tv_shows_enriched\n        columns:\n          - include: all\n"
            "            exclude: [rotten_tomatoes_rating]\n")  # fmt: skip


def check_a_breaking_change_fails_and_cleans_up(
    production: Path, tmp_path: Path, before: Any, published: list[dict[str, Any]]
) -> None:
    """The column dropped from v1 itself (no new version): the command as CI calls it fails with dbt's
    breaking-change error, and --cleanup drops the change's schemas anyway; production stays as it was."""
    breaking = copy_project(tmp_path / "breaking", _drop_v1_column)
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "deploy.py"), "ci-build", "--target", "postgres",
         "--state", str(production), "--schema", SCHEMA, "--project-dir", str(breaking),
         "--target-path", str(tmp_path / "ci3"), "--cleanup"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout[-2000:]
    assert "Breaking change to contract" in result.stderr and "rotten_tomatoes_rating" in result.stderr
    assert f"dropped the schemas {SCHEMA} and {SCHEMA}_*" in result.stdout
    assert not pg_query(f"select nspname from pg_namespace where nspname like '{SCHEMA}%'")
    assert relations(PRODUCTION_SCHEMAS) == before
    assert pg_query("select * from marts.movies_tv_shows_enriched order by id") == published
