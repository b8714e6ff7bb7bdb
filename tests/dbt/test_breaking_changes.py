"""A breaking change to an enforced contract fails ``scripts/deploy.py ci-build`` with dbt's error.

Production's state here is only its manifest (``dbt parse`` of main): dbt compares contracts while it selects
``state:modified+``, before anything connects, so each case fails on an empty DuckDB file. Removing, renaming
or retyping a column of the published mart's v1 raises dbt's ContractBreakingChangeError; the same on the
public, unversioned enrichment input raises UnversionedBreakingChange, which ci-build makes an error. A
column added is not breaking. (tests/dbt/test_slim_ci.py builds the same removal as a new version.)
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.dbt.dbt_helpers import DBT_PROJECT_DIR, run_dbt
from tests.dbt.test_slim_ci import ci_build_cli, replace

pytestmark = pytest.mark.slow

V1 = "          alias: movies_tv_shows_enriched\n"
MARTS = Path("models") / "marts" / "_marts__models.yml"
INPUT = Path("models") / "marts" / "_marts__enrichment_input.yml"


def v1_columns(*lines: str) -> Callable[[Path], None]:
    """v1's own column list: every shared column (``include: all``) changed by ``lines``."""
    block = "".join(f"          {line}\n" for line in ("- include: all", *lines))
    return lambda project: replace(project / MARTS, V1, f"{V1}        columns:\n{block}")


def drop_input_column(project: Path) -> None:
    replace(
        project / INPUT,
        "      - name: synopsis\n        description: Short description.\n"
        "        data_type: \"{{ 'varchar(65535)' if target.type == 'redshift' else 'varchar' }}\"\n",
        "",
    )


# case -> (the edit, what dbt's error names: the kind of model, the column)
CASES = {
    "v1 column removed": (
        v1_columns("  exclude: [rotten_tomatoes_rating]"),
        ("Breaking change to contract Error in model movies_tv_shows_enriched", "rotten_tomatoes_rating"),
    ),
    "v1 column renamed": (
        v1_columns(
            "  exclude: [rotten_tomatoes_rating]", "- name: rotten_tomatoes_score", "  data_type: varchar"
        ),
        ("Breaking change to contract Error in model movies_tv_shows_enriched", "rotten_tomatoes_rating"),
    ),
    "v1 column retyped": (
        v1_columns("- name: release_year", "  data_type: bigint"),
        (
            "Breaking change to contract Error in model movies_tv_shows_enriched",
            "release_year (integer -> bigint)",
        ),
    ),
    "public unversioned input column removed": (
        drop_input_column,
        ("Breaking change to contracted, unversioned model titles_enrichment_input", "synopsis"),
    ),
}


@pytest.fixture(scope="module")
def production_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("production")
    run_dbt(
        ["parse"], target="duckdb", work_dir=work, env={"TRENDING_NOW_DUCKDB_PATH": str(work / "w.duckdb")}
    )
    return work / "target"


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_breaking_contract_change_fails_ci_build(
    case: str,
    production_state: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    edit, error = CASES[case]
    project = tmp_path / "change"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    edit(project)
    monkeypatch.setenv("TRENDING_NOW_DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    code, out = ci_build_cli(
        ["ci-build", "--target", "duckdb", "--state", str(production_state), "--schema", "ci_pr_9",
         "--project-dir", str(project), "--target-path", str(tmp_path / "ci")]
    )  # fmt: skip
    assert code == 1, out
    message = capsys.readouterr().err
    assert "ci-build: dbt ls --select state:modified+ failed" in message, message
    assert all(part in message for part in error), message
    assert "dbt build" not in out  # nothing was built


def test_an_added_column_is_not_breaking(production_state: Path, tmp_path: Path) -> None:
    """Additive: the contract changed (selected, rebuilt in CI) without a breaking-change error."""
    import slim_ci

    project = tmp_path / "change"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    replace(
        project / INPUT,
        "      - name: synopsis\n",
        "      - name: synopsis_length\n        data_type: integer\n      - name: synopsis\n",
    )
    nodes = slim_ci.selected_nodes(
        production_state, ci_target="ci_duckdb", project_dir=project, target_path=tmp_path / "ci",
        env={"TRENDING_NOW_DUCKDB_PATH": str(tmp_path / "w.duckdb"), "DBT_CI_SCHEMA": "ci_pr_9"},
    )  # fmt: skip
    models = {n["unique_id"] for n in nodes if n["resource_type"] == "model"}
    assert models == {"model.trending_now.titles_enrichment_input"}
    assert {n["schema"] for n in nodes if n["resource_type"] == "model"} == {"ci_pr_9_marts"}
