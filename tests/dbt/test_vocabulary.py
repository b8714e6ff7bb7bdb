"""The enricher and dbt's accepted_values test share one primary-genre vocabulary."""

from pathlib import Path

import yaml

from core.vocabulary import PRIMARY_GENRES

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project" / "dbt_project.yml"


def test_dbt_var_matches_the_enricher_vocabulary() -> None:
    project = yaml.safe_load(DBT_PROJECT.read_text(encoding="utf-8"))
    assert project["vars"]["primary_genres"] == list(PRIMARY_GENRES)
