"""scripts/slim_ci.py's pure rules: the change's schema name, the guard that keeps a CI build out of the
published schemas, the CLI's registration on scripts/deploy.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import slim_ci  # noqa: E402


@pytest.mark.parametrize(
    ("environ", "branch", "expected"),
    [
        ({"DBT_CI_SCHEMA": "ci_mine"}, "main", "ci_mine"),
        ({"GITHUB_REF": "refs/pull/42/merge"}, "main", "ci_pr_42"),
        ({"GITHUB_REF": "refs/heads/feature"}, "Feature/New-Model", "ci_feature_new_model"),
        ({}, "", "ci"),
    ],
)
def test_the_schema_is_named_for_the_change(environ: dict[str, str], branch: str, expected: str) -> None:
    assert slim_ci.ci_schema(environ, git_branch=branch) == expected


@pytest.mark.parametrize("schema", ["marts", "staging", "public", "ci-1", "cimarts"])
def test_a_schema_outside_ci_is_refused(schema: str) -> None:
    with pytest.raises(slim_ci.CiBuildError, match="a CI schema is"):
        slim_ci.ci_schema({"DBT_CI_SCHEMA": schema})


def test_a_node_outside_the_change_schemas_is_refused() -> None:
    inside = {"unique_id": "model.p.a", "resource_type": "model", "schema": "ci_pr_1_marts"}
    test = {"unique_id": "test.p.t", "resource_type": "test", "schema": "ci_pr_1_dbt_test__audit"}
    slim_ci.check_schemas([inside, test], "ci_pr_1", ("duckdb", "postgres", "redshift"))
    published = {"unique_id": "model.p.m", "resource_type": "model", "schema": "marts"}
    with pytest.raises(slim_ci.CiBuildError, match=r"model.p.m -> marts"):
        slim_ci.check_schemas([inside, published], "ci_pr_1", ("duckdb", "postgres", "redshift"))


def test_state_without_a_manifest_fails_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "deploy.py"), "ci-build", "--target", "duckdb", "--state", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == f"ci-build: --state {tmp_path}: no manifest.json there (the deployed project's dbt manifest)"
    )


def test_docs_site_reads_its_bucket_from_terraform_outputs(tmp_path: Path) -> None:
    outputs = tmp_path / "tf-outputs.json"
    outputs.write_text(
        '{"docs_site_bucket": {"value": "b"}, "docs_site_distribution_id": {"value": "E1"}, "x": {"value": 1}}'
    )
    assert slim_ci.terraform_outputs(outputs) == {"docs_site_bucket": "b", "docs_site_distribution_id": "E1"}
