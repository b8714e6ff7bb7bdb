"""The deploy rules of this project that no workflow linter knows (`make lint` runs it).

Schema and security checks of .github/workflows are check-jsonschema (GitHub's workflow schema) and
zizmor (pinned actions, credentials, injections...). What is left is ours:

- a deploy workflow (``cd_*.yml``) has a ``concurrency`` group that never cancels a running deploy;
- a job that assumes an AWS role (OIDC) has ``id-token: write`` and runs in a GitHub environment
  (the deploy roles trust one environment each); in ``cd_production.yml`` that is ``production``,
  the environment with the required approval;
- production deploys only what passed staging: ``cd_production.yml`` is triggered by nothing but a
  completed ``cd-staging`` run, and each of its AWS jobs requires that run's success;
- the deploy is a program: a deploy job runs every stage of ``scripts/deploy.py`` (DEPLOY_STAGES), in
  order, one step each, and never dbt itself (an unselected ``dbt build`` publishes the mart outside
  audit -> gate -> publish) nor any other AWS command than Terraform.

Usage: ``python scripts/check_deploy_workflows.py [FILE ...]`` (default: .github/workflows/*.yml).
Exit 0 when clean, 1 with one line per problem.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"
AWS_ACTION = "aws-actions/configure-aws-credentials"
STAGING_WORKFLOW = "cd-staging"
SUCCESS = "github.event.workflow_run.conclusion == 'success'"
DEPLOY = "scripts/deploy.py"
DEPLOY_STAGES = (
    "wheelhouse",
    "apply-outputs",
    "raw-tables",
    "eval-gate",
    "build-warehouse",
    "docs-site",
    "bundle",
    "smoke",
)
# what only scripts/deploy.py may run in a deploy job
FORBIDDEN = ("dbt ", "aws s3", "aws secretsmanager", "pytest", "<<")


def _assumes_aws_role(job: dict[str, Any]) -> bool:
    return any(
        str(step.get("uses", "")).split("@")[0] == AWS_ACTION and "role-to-assume" in (step.get("with") or {})
        for step in job.get("steps") or []
    )


def _environment(job: dict[str, Any]) -> str | None:
    environment = job.get("environment")
    return environment.get("name") if isinstance(environment, dict) else environment


def _concurrency_problems(workflow: dict[str, Any]) -> list[str]:
    """A deploy workflow: one concurrency group that never cancels a running deploy."""
    concurrency = workflow.get("concurrency")
    if not (isinstance(concurrency, dict) and concurrency.get("group")):
        return ["a deploy workflow needs a concurrency group: two deploys must never overlap"]
    if concurrency.get("cancel-in-progress") not in (None, False):
        return ["concurrency: cancel-in-progress must be false, never cancel a running deploy"]
    return []


def _trigger_problems(workflow: dict[str, Any]) -> list[str]:
    """Production: triggered only by the staging workflow's run."""
    triggers = workflow.get("on", workflow.get(True)) or {}  # PyYAML reads the key `on` as True
    run = triggers.get("workflow_run") if isinstance(triggers, dict) else None
    if set(triggers) != {"workflow_run"} or STAGING_WORKFLOW not in (run or {}).get("workflows", []):
        return [f"production must be triggered by the {STAGING_WORKFLOW} workflow_run only"]
    return []


def _can_request_oidc_token(permissions: Any) -> bool:
    return permissions == "write-all" or (
        isinstance(permissions, dict) and permissions.get("id-token") == "write"
    )


def _job_problems(job_id: str, job: dict[str, Any], workflow: dict[str, Any], production: bool) -> list[str]:
    """A job that assumes an AWS role: OIDC token allowed, inside an environment (production's, gated on
    the staging run's success, in the production workflow)."""
    problems = []
    if not _can_request_oidc_token(job.get("permissions", workflow.get("permissions")) or {}):
        problems.append(f"job {job_id}: assumes an AWS role through OIDC without 'id-token: write'")
    environment = _environment(job)
    if environment is None:
        problems.append(f"job {job_id}: assumes an AWS role outside a GitHub environment")
    elif production and environment != "production":
        problems.append(
            f"job {job_id}: deploys to production outside the 'production' environment (approval)"
        )
    if production and SUCCESS not in " ".join(str(job.get("if", "")).split()):
        problems.append(f"job {job_id}: must run only if the staging run succeeded ({SUCCESS})")
    return problems


def _stage_problems(job_id: str, job: dict[str, Any]) -> list[str]:
    """A deploy job: each scripts/deploy.py stage once, in order, one step each; no dbt, AWS CLI or pytest."""
    runs = [str(step.get("run", "")) for step in job.get("steps") or [] if step.get("run")]
    stages = [_stage_of(run) for run in runs if DEPLOY in run]
    problems = [problem for run in runs for problem in _run_problems(job_id, run)]
    if stages != list(DEPLOY_STAGES):
        problems.append(
            f"job {job_id}: must run the deploy stages {', '.join(DEPLOY_STAGES)} in order "
            f"(found {', '.join(stages) or 'none'})"
        )
    return problems


def _stage_of(run: str) -> str:
    """The scripts/deploy.py stage a step's ``run`` calls ('' when it names none)."""
    words = run.split(DEPLOY, 1)[1].split()
    return words[0] if words else ""


def _run_problems(job_id: str, run: str) -> list[str]:
    """A deploy step that does more than its stage, or a step that does a stage's work itself."""
    if DEPLOY in run:
        if "\n" in run.strip() or run.count(DEPLOY) > 1:
            return [f"job {job_id}: one scripts/deploy.py stage per step, nothing else in it"]
        return []
    return [
        f"job {job_id}: runs {word.strip()!r} itself: that is a scripts/deploy.py stage"
        for word in FORBIDDEN
        if word in run
    ]


def check(path: Path) -> list[str]:
    """Problems of one workflow file (empty when clean)."""
    workflow = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    deploy, production = path.name.startswith("cd_"), path.name == "cd_production.yml"
    problems = _concurrency_problems(workflow) if deploy else []
    if production:
        problems += _trigger_problems(workflow)
    for job_id, job in (workflow.get("jobs") or {}).items():
        if isinstance(job, dict) and _assumes_aws_role(job):
            problems += _job_problems(job_id, job, workflow, production)
            if deploy:
                problems += _stage_problems(job_id, job)
    return [f"{path.name}: {problem}" for problem in problems]


def main(argv: list[str] | None = None) -> int:
    paths = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)] or sorted(WORKFLOWS.glob("*.yml"))
    problems = [line for path in paths for line in check(path)]
    for line in problems:
        print(line)
    print(f"check_deploy_workflows: {len(paths)} file(s), {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
