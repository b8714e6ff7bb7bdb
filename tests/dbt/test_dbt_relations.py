"""core.dbt_relations names every model where dbt builds it, on a pipeline target and on dev / CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.dbt_relations import relation, shared_schema_targets
from core.warehouse import TARGETS
from tests.dbt.dbt_helpers import run_dbt

TARGET_SCHEMAS = {
    "duckdb": "main",
    "postgres": "public",
    "redshift": "public",
    "dev": "dev_tester",
    "ci": "ci",
    "ci_duckdb": "ci",
    "ci_redshift": "ci",
}


@pytest.mark.parametrize("target", list(TARGET_SCHEMAS))
def test_python_names_each_model_where_dbt_builds_it(target: str, tmp_path: Path) -> None:
    manifest = run_dbt(
        ["parse"],
        target=target,
        work_dir=tmp_path,
        env={
            "DBT_DEV_SCHEMA": "dev_tester",
            "DBT_CI_SCHEMA": "ci",
            "TRENDING_NOW_DUCKDB_PATH": str(tmp_path / "w.duckdb"),
        },
    ).result
    models = [n for n in manifest.nodes.values() if n.resource_type == "model"]
    assert len(models) > 20
    for node in models:
        assert str(relation(node.name, target, TARGET_SCHEMAS[target])) == f"{node.schema}.{node.alias}"
    schemas = {node.schema for node in models}
    if target in shared_schema_targets():
        assert schemas == {"staging", "intermediate", "marts", "marts_audit"}
    else:
        assert all(schema.startswith(f"{TARGET_SCHEMAS[target]}_") for schema in schemas)


def test_the_pipeline_warehouses_are_the_shared_schema_targets() -> None:
    """What Python reads (the published mart, the enrichment input, …) is in the unprefixed schemas."""
    assert set(TARGETS) == set(shared_schema_targets())
    assert str(relation("movies_tv_shows_enriched")) == "marts.movies_tv_shows_enriched"
    assert str(relation("movies_tv_shows_enriched_audit")) == "marts_audit.movies_tv_shows_enriched_audit"
    assert str(relation("titles_enrichment_input", "postgres")) == "marts.titles_enrichment_input"
    assert (
        str(relation("int_review_subjects_listed", "redshift")) == "intermediate.int_review_subjects_listed"
    )
    assert str(relation("titles_enrichment_input", "ci", "ci")) == "ci_marts.titles_enrichment_input"


def test_project_and_profile_names_are_dbt_project_ymls() -> None:
    """The CLI's `--profile` and the DAG's Cosmos ProjectConfig/ProfileConfig read them from dbt_project.yml."""
    import yaml

    from core.dbt_relations import DBT_PROJECT_DIR, profile_name, project_name

    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    profiles = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))
    assert (project_name(), profile_name()) == (project["name"], project["profile"])
    assert profile_name() in profiles
