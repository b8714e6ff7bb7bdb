"""The GitHub Actions workflows pass scripts/check_workflows.py and do what CI/CD must do."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def _load_checker() -> Any:
    spec = importlib.util.spec_from_file_location("check_workflows", ROOT / "scripts" / "check_workflows.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


checker = _load_checker()


def _workflow(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job.get("steps", []))


def _uses(job: dict[str, Any]) -> list[str]:
    return [str(step["uses"]).split("@")[0] for step in job.get("steps", []) if "uses" in step]


# ---- the repository's workflows -------------------------------------------------------------------
def test_expected_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS.glob("*.yml")} >= {"ci.yml", "cd_staging.yml", "cd_production.yml"}


def test_repository_workflows_pass_the_checker(capsys: pytest.CaptureFixture[str]) -> None:
    code = checker.main(["--no-actionlint"])
    out = capsys.readouterr().out
    assert code == 0, out


def test_ci_runs_every_check() -> None:
    ci = _workflow("ci.yml")
    triggers = ci[True]
    assert {"pull_request", "push", "workflow_call"} <= set(triggers)
    jobs = ci["jobs"]
    everything = "\n".join(_runs(job) for job in jobs.values())
    for command in (
        "make setup",
        "make lint",  # ruff check, sqlfluff lint on dbt_project, scripts/check_workflows.py
        "make manifest",
        "pytest",
        "dbt parse",
        "dbt compile --profiles-dir . --target redshift",
        "terraform fmt -check -recursive",
        "init -backend=false",
        "validate",
        "tflint --recursive",
        "checkov -d infrastructure",
        "make docs",
    ):
        assert command in everything, f"ci.yml does not run {command!r}"
    makefile = ROOT / "Makefile"
    if makefile.is_file():
        lint = makefile.read_text(encoding="utf-8").split("\nlint:", 1)[1].split("\n\n", 1)[0]
        for tool in ("ruff check", "sqlfluff lint", "scripts/check_workflows.py"):
            assert tool in lint, f"`make lint` no longer runs {tool}; ci.yml relies on it"
    test_job = jobs["test"]
    assert test_job["services"]["postgres"]["image"] == "postgres:15"
    assert {"PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"} <= set(test_job["env"])
    assert all(key.startswith("REDSHIFT_") for key in jobs["dbt"]["env"])
    assert jobs["dbt"]["env"]["REDSHIFT_HOST"].endswith(".invalid"), "dbt compile must stay offline"
    docs = jobs["docs"]
    upload = [s for s in docs["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert upload and upload[0]["with"]["path"] == "dbt_project/target"


@pytest.mark.parametrize(
    ("name", "env", "branch", "github_environment", "tests"),
    [
        ("cd_staging.yml", "staging", "staging", "staging", "pytest tests/integration -q"),
        ("cd_production.yml", "prod", "main", "production", "pytest tests/integration -q -m smoke"),
    ],
)
def test_cd_deploys_in_order(name: str, env: str, branch: str, github_environment: str, tests: str) -> None:
    workflow = _workflow(name)
    assert workflow[True]["push"]["branches"] == [branch]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    jobs = workflow["jobs"]
    assert jobs["ci"]["uses"] == "./.github/workflows/ci.yml", "nothing deploys without CI"
    deploy = jobs["deploy"]
    assert deploy["needs"] == "ci"
    assert deploy["environment"]["name"] == github_environment
    assert deploy["permissions"]["id-token"] == "write"
    assert deploy["env"]["APP_ENV"] == env
    assert "aws-actions/configure-aws-credentials" in _uses(deploy)
    aws_step = next(s for s in deploy["steps"] if "configure-aws-credentials" in str(s.get("uses", "")))
    assert aws_step["with"]["role-to-assume"].startswith("${{ vars.AWS_DEPLOY_ROLE_ARN_")
    assert "aws-access-key-id" not in aws_step["with"], "OIDC only, no long-lived keys"

    script = _runs(deploy)
    order = [
        f"-backend-config=environments/{env}.backend.hcl",
        f"terraform plan -var-file=environments/{env}.tfvars",
        "terraform apply tfplan",
        "terraform output -json",
        f'render_config.py --outputs "$RUNNER_TEMP/tf-outputs.json" --config config/{env}.yaml',
        "make manifest",
        "aws s3 sync",
        "dbt build --target redshift",
        tests,
    ]
    positions = [script.find(fragment) for fragment in order]
    assert all(p >= 0 for p in positions), dict(zip(order, positions, strict=True))
    assert positions == sorted(positions), "deploy steps out of order"
    for package in ("dags/", "extract", "enrich", "trending_now", "config", "dbt_project"):
        assert package in script, f"{package} is not synced to the MWAA bucket"


def test_production_needs_the_approval_environment() -> None:
    text = (WORKFLOWS / "cd_production.yml").read_text(encoding="utf-8")
    assert "Required reviewers" in text, "document where the manual approval is configured"


# ---- the checker itself ---------------------------------------------------------------------------
GOOD = """
name: sample
on:
  push:
permissions:
  contents: read
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
      - id: one
        run: echo hi
      - run: echo ${{ steps.one.outputs.x }}
  after:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-python@v5
"""


def _check(tmp_path: Path, text: str, name: str = "sample.yml") -> list[str]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return checker.check_workflow(path)


def test_checker_accepts_a_good_workflow(tmp_path: Path) -> None:
    assert _check(tmp_path, GOOD) == []


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("on:\n  push:\n", "", "no trigger"),
        (
            "    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout",
            "    steps:\n      - uses: actions/checkout",
            "has no 'runs-on'",
        ),
        ("@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1", "@main", "not pinned"),
        ("actions/setup-python@v5", "actions/setup-python", "not of the form"),
        ("needs: build", "needs: [build, deploy]", "needs unknown job 'deploy'"),
        (
            "        run: echo hi\n",
            "        run: echo hi\n        uses: actions/cache@v4\n",
            "exactly one of 'uses' or 'run'",
        ),
        ("steps.one.outputs", "steps.two.outputs", "steps.two"),
        ("echo ${{ steps.one.outputs.x }}", "echo ${{ steps.one.outputs.x", "unbalanced"),
        ("on:\n  push:\n", "on:\n  pushed:\n", "unknown event"),
    ],
)
def test_checker_finds_problems(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = textwrap.dedent(GOOD)
    assert old in text
    problems = _check(tmp_path, text.replace(old, new))
    assert any(message in line for line in problems), problems


def test_checker_finds_needs_cycles(tmp_path: Path) -> None:
    text = textwrap.dedent(GOOD).replace("  build:\n    runs-on", "  build:\n    needs: after\n    runs-on")
    assert any("cycle" in line for line in _check(tmp_path, text))


PRODUCTION = """
name: cd-production
on:
  push:
    branches: [main]
permissions:
  contents: read
concurrency:
  group: deploy-production
  cancel-in-progress: false
jobs:
  deploy:
    runs-on: ubuntu-latest
    environment: production
    permissions:
      id-token: write
    steps:
      - uses: aws-actions/configure-aws-credentials@v6
        with:
          role-to-assume: arn:aws:iam::123456789012:role/deploy
          aws-region: us-east-1
      - run: terraform apply
"""


def test_checker_accepts_a_production_deploy(tmp_path: Path) -> None:
    assert _check(tmp_path, PRODUCTION, "cd_production.yml") == []


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    environment: production\n", "", "outside the 'production' environment"),
        (
            "    environment: production\n",
            "    environment: staging\n",
            "outside the 'production' environment",
        ),
        ("    permissions:\n      id-token: write\n", "", "id-token: write"),
        ("concurrency:\n  group: deploy-production\n  cancel-in-progress: false\n", "", "concurrency group"),
        ("cancel-in-progress: false", "cancel-in-progress: true", "never cancel"),
    ],
)
def test_checker_guards_production(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = textwrap.dedent(PRODUCTION)
    assert old in text
    problems = _check(tmp_path, text.replace(old, new), "cd_production.yml")
    assert any(message in line for line in problems), problems


@pytest.mark.parametrize(
    ("uses", "ok"),
    [
        ("actions/checkout@v4", True),
        ("actions/checkout@v4.2.2", True),
        ("actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683", True),
        ("github/codeql-action/init@v3", True),
        ("actions/checkout@main", False),
        ("actions/checkout@11bd719", False),
        ("docker://alpine:3.20", True),
        ("docker://alpine", False),
        ("docker://alpine:latest", False),
        ("docker://alpine@sha256:" + "a" * 64, True),
    ],
)
def test_action_pinning(uses: str, ok: bool) -> None:
    assert (checker.check_action_ref(uses, WORKFLOWS / "x.yml") is None) is ok


def test_reusable_workflow_must_exist(tmp_path: Path) -> None:
    text = "on: push\njobs:\n  ci:\n    uses: ./.github/workflows/missing.yml\n"
    assert any("does not exist" in line for line in _check(tmp_path, text))


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    assert any("invalid YAML" in line for line in _check(tmp_path, "on: [push\njobs: {"))
