"""The GitHub Actions workflows do what CI/CD must do, and keep the project's deploy rules.

GitHub's workflow schema (check-jsonschema) and the security audits (zizmor: pinned actions,
persisted credentials, template injection...) run in `make lint`; here: what our CI and CD run, in
which order, and scripts/check_deploy_workflows.py, the rules no tool knows.
"""

from __future__ import annotations

import importlib.util
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rules = _load("check_deploy_workflows")


def _workflow(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job.get("steps", []))


def _make_target(name: str) -> str:
    return (ROOT / "Makefile").read_text(encoding="utf-8").split(f"\n{name}:", 1)[1].split("\n\n", 1)[0]


# ---- the repository's workflows -------------------------------------------------------------------
def test_expected_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS.glob("*.yml")} >= {"ci.yml", "cd_staging.yml", "cd_production.yml"}


def test_the_repository_keeps_the_deploy_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert rules.main([]) == 0, capsys.readouterr().out


def test_make_lint_checks_the_workflows_offline() -> None:
    lint = _make_target("lint")
    for tool in (
        "ruff check",
        "sqlfluff lint",
        "check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml",
        "zizmor --offline",  # CI has no network but the package registries
        "scripts/check_deploy_workflows.py",
    ):
        assert tool in lint, f"`make lint` no longer runs {tool}; ci.yml relies on it"


def test_ci_runs_every_check() -> None:
    ci = _workflow("ci.yml")
    assert {"pull_request", "push", "workflow_call"} <= set(ci[True])
    jobs = ci["jobs"]
    everything = "\n".join(_runs(job) for job in jobs.values())
    missing = [command for command in CI_COMMANDS if command not in everything]
    assert missing == [], f"ci.yml does not run {missing}"
    _check_test_job(jobs["test"])
    _check_dbt_and_docs_jobs(jobs)


CI_COMMANDS = (
    "make setup",
    "make lint",
    "make manifest",
    "pytest",
    "dbt parse",
    "dbt compile --profiles-dir . --target redshift",
    "terraform fmt -check -recursive",
    "init -backend=false",
    "validate",
    "tflint --recursive",
    "uv pip sync --quiet infrastructure/requirements-checkov.txt",
    'checkov" -d infrastructure',
    "make mwaa-check",
    "make docs",
    "make rehearse",
)


def _check_test_job(test_job: dict[str, Any]) -> None:
    assert test_job["services"]["postgres"]["image"] == "postgres:15"
    assert {"PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"} <= set(test_job["env"])
    # a skip fails a CI run: the Terraform tests get terraform and the provider mirror they read
    assert "providers mirror" in _runs(test_job)
    pytest_step = next(s for s in test_job["steps"] if str(s.get("run", "")).startswith(".venv/bin/pytest"))
    assert "TF_PLUGIN_MIRROR" in pytest_step["env"]


def _check_dbt_and_docs_jobs(jobs: dict[str, Any]) -> None:
    assert all(key.startswith("REDSHIFT_") for key in jobs["dbt"]["env"])
    assert jobs["dbt"]["env"]["REDSHIFT_HOST"].endswith(".invalid"), "dbt compile must stay offline"
    upload = [
        s for s in jobs["docs"]["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")
    ]
    assert upload and upload[0]["with"]["path"] == "dbt_project/target"


def test_the_mwaa_parse_stays_out_of_make_test() -> None:
    """It builds a second venv (minutes): its own CI job, not the test suite's time budget."""
    assert "mwaa" not in _make_target("test")
    assert "make mwaa-check" in _runs(_workflow("ci.yml")["jobs"]["mwaa"])


@pytest.mark.parametrize(
    ("name", "env", "tests"),
    [
        ("cd_staging.yml", "staging", "integration"),
        ("cd_production.yml", "prod", "smoke"),
    ],
)
def test_cd_deploys_in_order(name: str, env: str, tests: str) -> None:
    """Terraform -> warehouse build and tests -> DAG sync -> tests that must all run and pass."""
    deploy = _workflow(name)["jobs"]["deploy"]
    assert deploy["env"]["APP_ENV"] == env
    tfvars = (ROOT / "infrastructure" / "environments" / f"{env}.tfvars").read_text(encoding="utf-8")
    github_environment = re.search(r'^github_environment\s*=\s*"([^"]+)"', tfvars, re.M)
    assert github_environment and deploy["environment"]["name"] == github_environment.group(1), (
        "the deploy role trusts OIDC tokens of the tfvars' github_environment only"
    )
    aws_step = next(s for s in deploy["steps"] if "configure-aws-credentials" in str(s.get("uses", "")))
    assert aws_step["with"]["role-to-assume"].startswith("${{ vars.AWS_DEPLOY_ROLE_ARN_")
    assert "aws-access-key-id" not in aws_step["with"], "OIDC only, no long-lived keys"

    script = _runs(deploy)
    order = [
        "scripts/deploy.py wheelhouse",
        f"-backend-config=environments/{env}.backend.hcl",
        f"terraform plan -var-file=environments/{env}.tfvars",
        "terraform apply tfplan",
        "terraform output -json",
        'scripts/deploy.py apply-outputs --outputs "$RUNNER_TEMP/tf-outputs.json"',
        "scripts/deploy.py raw-tables",
        "scripts/deploy.py eval-gate",
        "scripts/deploy.py build-warehouse --target redshift",
        'scripts/deploy.py docs-site --target redshift --outputs "$RUNNER_TEMP/tf-outputs.json"',
        "scripts/deploy.py bundle",
        f"scripts/deploy.py smoke --tests {tests}",
    ]
    positions = [script.find(fragment) for fragment in order]
    assert all(p >= 0 for p in positions), dict(zip(order, positions, strict=True))
    assert positions == sorted(positions), "deploy steps out of order"


@pytest.mark.parametrize("name", ["cd_staging.yml", "cd_production.yml"])
def test_the_deploy_never_builds_the_published_mart_itself(name: str) -> None:
    """Only the pipeline's gate publishes: CD builds through `deploy.py build-warehouse`, never `dbt build`."""
    script = _runs(_workflow(name)["jobs"]["deploy"])
    assert "dbt build" not in script and "dbt run" not in script
    assert "<<" not in script, "no inline program: a stage is a tested subcommand of scripts/deploy.py"


@pytest.mark.parametrize("name", ["cd_staging.yml", "cd_production.yml"])
def test_each_stage_is_a_subcommand_of_the_deploy_program(name: str) -> None:
    """The workflow's stages (check_deploy_workflows.DEPLOY_STAGES) are the program's subcommands."""
    deploy = _load("deploy")
    stages = deploy.build_parser()._subparsers._group_actions[0].choices
    assert set(rules.DEPLOY_STAGES) <= set(stages)
    script = _runs(_workflow(name)["jobs"]["deploy"])
    assert f"smoke --tests {'integration' if name == 'cd_staging.yml' else 'smoke'}" in script
    assert set(deploy.EXPECTED_TESTS) >= {"integration", "smoke"}


def test_staging_runs_ci_first() -> None:
    workflow = _workflow("cd_staging.yml")
    assert workflow[True]["push"]["branches"] == ["staging"]
    assert workflow["jobs"]["ci"]["uses"] == "./.github/workflows/ci.yml", "nothing deploys without CI"
    assert workflow["jobs"]["deploy"]["needs"] == "ci"


def test_production_deploys_the_commit_staging_passed() -> None:
    workflow = _workflow("cd_production.yml")
    run = workflow[True]["workflow_run"]
    assert run["workflows"] == [_workflow("cd_staging.yml")["name"]] and run["types"] == ["completed"]
    deploy = workflow["jobs"]["deploy"]
    condition = " ".join(deploy["if"].split())
    for clause in (
        "event == 'push'",
        "head_branch == 'staging'",
        "head_repository.full_name == github.repository",
    ):
        assert clause in condition
    checkout = next(s for s in deploy["steps"] if str(s.get("uses", "")).startswith("actions/checkout@"))
    assert checkout["with"]["ref"] == "${{ github.event.workflow_run.head_sha }}"


def test_production_needs_the_approval_environment() -> None:
    text = (WORKFLOWS / "cd_production.yml").read_text(encoding="utf-8")
    assert "Required reviewers" in text, "document where the manual approval is configured"


# ---- scripts/check_deploy_workflows.py ------------------------------------------------------------
PRODUCTION = """
name: cd-production
on:
  workflow_run:
    workflows: [cd-staging]
    types: [completed]
permissions:
  contents: read
concurrency:
  group: deploy-production
  cancel-in-progress: false
jobs:
  deploy:
    if: github.event.workflow_run.conclusion == 'success'
    runs-on: ubuntu-latest
    environment: production
    permissions:
      id-token: write
    steps:
      - uses: aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c
        with:
          role-to-assume: arn:aws:iam::123456789012:role/deploy
          aws-region: us-east-1
      - run: .venv/bin/python scripts/deploy.py wheelhouse
      - run: terraform apply
      - run: .venv/bin/python scripts/deploy.py apply-outputs --outputs tf-outputs.json
      - run: .venv/bin/python scripts/deploy.py raw-tables
      - run: .venv/bin/python scripts/deploy.py eval-gate
      - run: .venv/bin/python scripts/deploy.py build-warehouse --target redshift
      - run: .venv/bin/python scripts/deploy.py docs-site --target redshift --outputs tf-outputs.json
      - run: .venv/bin/python scripts/deploy.py bundle
      - run: .venv/bin/python scripts/deploy.py smoke --tests smoke
"""


def _check(tmp_path: Path, text: str, name: str = "cd_production.yml") -> list[str]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return rules.check(path)


def test_rules_accept_a_production_deploy(tmp_path: Path) -> None:
    assert _check(tmp_path, PRODUCTION) == []


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    environment: production\n", "", "outside a GitHub environment"),
        (
            "    environment: production\n",
            "    environment: staging\n",
            "outside the 'production' environment",
        ),
        ("    permissions:\n      id-token: write\n", "", "id-token: write"),
        ("concurrency:\n  group: deploy-production\n  cancel-in-progress: false\n", "", "concurrency group"),
        ("cancel-in-progress: false", "cancel-in-progress: true", "never cancel"),
        ("    if: github.event.workflow_run.conclusion == 'success'\n", "", "staging run succeeded"),
        ("workflows: [cd-staging]", "workflows: [ci]", "cd-staging workflow_run only"),
        ("on:\n", "on:\n  push:\n", "cd-staging workflow_run only"),
        (
            "      - run: .venv/bin/python scripts/deploy.py build-warehouse --target redshift\n",
            "      - run: cd dbt_project && dbt build --target redshift\n",
            "runs 'dbt'",
        ),
        (
            "      - run: .venv/bin/python scripts/deploy.py raw-tables\n",
            "",
            "must run the deploy stages wheelhouse, apply-outputs, raw-tables, eval-gate, build-warehouse, docs-site, bundle, smoke in order",
        ),
        (
            "      - run: .venv/bin/python scripts/deploy.py bundle\n",
            "      - run: aws s3 sync bundle/ s3://bucket/dags/\n",
            "runs 'aws s3'",
        ),
    ],
)
def test_rules_guard_production(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = textwrap.dedent(PRODUCTION)
    assert old in text
    problems = _check(tmp_path, text.replace(old, new))
    assert any(message in line for line in problems), problems


def test_rules_apply_to_every_job_that_assumes_a_role(tmp_path: Path) -> None:
    staging = textwrap.dedent(PRODUCTION).replace("    environment: production\n", "")
    assert any("outside a GitHub environment" in line for line in _check(tmp_path, staging, "cd_staging.yml"))
    no_role = staging.replace("          role-to-assume: arn:aws:iam::123456789012:role/deploy\n", "")
    assert _check(tmp_path, no_role, "cd_staging.yml") == []
