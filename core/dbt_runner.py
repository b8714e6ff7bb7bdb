"""Run dbt (in-process, through dbt's programmatic ``dbtRunner``) against the configured warehouse, and what
each dbt step selects: the transform steps (``transform.step``) and publishing (``publish.step``) both build
through :func:`build`; the Airflow DAG's Cosmos groups read :data:`SELECTIONS` and :data:`EXCLUSIONS`.

Core layer: imports nothing from the steps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core import step_names
from core.context import RunContext, StepResult
from core.dbt_relations import DBT_ENV, dbt_folder, profile_name
from core.environ import environ

# The dbt invocations of a daily run (DESIGN.md: dbt staging/intermediate -> enrich -> dbt marts -> publish).
# (a) the seed, staging and intermediate models up to the enrichment input, with their tests;
# (b) the enrichment side table's staging, the pending model and the mart's audit relation, with their
#     tests (write-audit-publish: consumers do not read the audit relation);
# (c) after the Great Expectations gate: the published table, a copy of the audited mart swapped in.
SELECT_BEFORE_ENRICH = ["+titles_enrichment_input", "stg_reviews__review_fetches"]
PUBLISHED_MODEL = "movies_tv_shows_enriched"
# Published with it, after the gate: where each title is available per country, and what is new there this week.
PUBLISHED_WITH = ["title_availability", "titles_new_this_week"]
# The vibe_tags seed (the tag vocabulary) loads with the marts: the mart's csv_items_accepted test reads it, and a
# seed selected earlier would select that test before the mart exists.
SELECT_MARTS = ["stg_enrichment__title_enrichments+", "vibe_tags"]
SELECT_PUBLISH = [PUBLISHED_MODEL, *PUBLISHED_WITH]
# (0) before extract_reviews: the folded titles the review extract reads (seasons folded into shows once, in dbt).
# stg_justwatch__title_genres and the genres seed too: plain `dbt build` (the DAG's Cosmos producer) selects
# the relationships tests between them and stg_justwatch__titles, which fail on a fresh warehouse otherwise.
SELECT_TITLES = ["+int_review_subjects_listed", "stg_justwatch__title_genres", "justwatch_genres"]
EXCLUDE_UNIT_TESTS = ["test_type:unit"]
# The dbt selection of every dbt step, by step name (trending_now.pipeline.STEPS): the Airflow DAG renders these
# steps as Cosmos task groups, every other step as a Python task.
SELECTIONS: dict[str, list[str]] = {
    step_names.DBT_TITLES: SELECT_TITLES,
    step_names.DBT_STAGING_INTERMEDIATE: SELECT_BEFORE_ENRICH,
    step_names.DBT_MARTS: SELECT_MARTS,
    step_names.PUBLISH_MART: SELECT_PUBLISH,
}
# What a dbt step leaves out of its selection (the DAG's Cosmos groups pass the same to RenderConfig.exclude).
EXCLUSIONS: dict[str, list[str]] = {step_names.DBT_MARTS: [PUBLISHED_MODEL, *PUBLISHED_WITH]}


class DbtError(RuntimeError):
    """A dbt command failed; the message lists the failing nodes."""


def project_dirs(ctx: RunContext) -> tuple[Path, Path]:
    return ctx.settings.path("dbt.project_dir"), ctx.settings.path("dbt.profiles_dir")


def invoke(ctx: RunContext, args: Sequence[str]) -> Any:
    """Run ``dbt <args>`` for the context's warehouse target; raise :class:`DbtError` on failure."""
    from dbt.cli.main import dbtRunner

    project_dir, profiles_dir = project_dirs(ctx)
    warehouse = ctx.warehouse
    full_args = [
        *(["--quiet"] if ctx.quiet else []),
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(profiles_dir),
        # named although dbt_project.yml names it: dbt's partial-parse check compares the --profile argument,
        # and the DAG's Cosmos producers pass it, so a run's first parse serves them too (docs/airflow.md)
        "--profile",
        profile_name(project_dir),
        "--target",
        warehouse.target,
    ]
    env = {
        **warehouse.dbt_env(),
        **DBT_ENV,
        "DBT_LOG_PATH": str(dbt_folder(ctx.settings, "log")),
        "DBT_TARGET_PATH": str(dbt_folder(ctx.settings, "target")),
    }
    with environ(env):
        manifest = _parsed_manifest(full_args, env, project_dir) if args[0] in _USES_MANIFEST else None
        result = dbtRunner(manifest=manifest).invoke(full_args)
    if not result.success:
        command = " ".join(args[:2] if args[0] == "source" else args[:1])
        raise DbtError(f"dbt {command} failed: {_failures(result)}")
    return result


# Parsing the project costs ~2 s per dbt invocation and a run makes several: parse once per process and
# hand the manifest to the next invocations, as long as the project files, arguments and environment match.
_USES_MANIFEST = frozenset({"build", "run", "test", "ls", "compile", "seed"})
_MANIFESTS: dict[tuple[Any, ...], Any] = {}


def _project_fingerprint(project_dir: Path) -> tuple[tuple[str, int, int], ...]:
    files = [project_dir / "dbt_project.yml"]
    for folder in ("models", "macros", "seeds", "tests", "snapshots", "analyses"):
        files.extend(p for p in sorted((project_dir / folder).rglob("*")) if p.is_file())
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files if p.exists())


def _parsed_manifest(full_args: Sequence[str], env: dict[str, str], project_dir: Path) -> Any:
    from dbt.cli.main import dbtRunner

    if "--vars" in full_args or "--full-refresh" in full_args:
        return None
    flags = list(full_args[full_args.index("--project-dir") :])
    key = (tuple(flags), tuple(sorted(env.items())), _project_fingerprint(project_dir))
    if key not in _MANIFESTS:
        result = dbtRunner().invoke(["--quiet", "parse", *flags])
        if not result.success or result.result is None:
            return None  # let the real command report the parse error
        _MANIFESTS.clear()
        _MANIFESTS[key] = result.result
    return _MANIFESTS[key]


_HEADERS = ("Database Error", "Runtime Error", "Compilation Error", "Parsing Error", "Dependency Error")


def _cause_line(text: str) -> str:
    """The first line of a dbt error, joined with the next when it is only a header like ``Database Error``."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    if len(lines) > 1 and lines[0].rstrip(":") in _HEADERS:
        return f"{lines[0].rstrip(':')}: {lines[1]}"
    return lines[0]


_FAILED = ("error", "fail", "runtime error")


def _node_failure(node_result: Any) -> str | None:
    """``<node> (<status>: <cause>)`` for a failed node, None for one that passed."""
    status = str(getattr(node_result, "status", ""))
    if status.lower() not in _FAILED:
        return None
    message = _cause_line(getattr(node_result, "message", "") or "")
    if not message and getattr(node_result, "age", None) is not None:  # a source freshness result
        message = f"newest row {node_result.age / 3600:.0f} hours old"
    return f"{node_result.node.name} ({status}: {message or 'no message'})"


def _failures(result: Any) -> str:
    if result.exception is not None:
        return _cause_line(str(result.exception)) or repr(result.exception)
    node_results = getattr(result.result, "results", None) or []
    failed = [line for line in map(_node_failure, node_results) if line]
    return "; ".join(failed[:8]) or "see dbt_project/logs/dbt.log"


def build(ctx: RunContext, select: Sequence[str], step: str) -> StepResult:
    """``dbt build --select <select>`` without unit tests (CI runs them with ``dbt test``) nor the step's
    :data:`EXCLUSIONS`."""
    from core.raw_tables import ensure_raw_tables

    created = ensure_raw_tables(ctx.warehouse)
    if created:
        ctx.progress(f"created empty raw table(s) no load has made yet: {', '.join(created)}")
    ctx.progress(f"dbt build --select {' '.join(select)}")
    exclude = [*EXCLUDE_UNIT_TESTS, *EXCLUSIONS.get(step, [])]
    result = invoke(ctx, ["build", "--select", *select, "--exclude", *exclude])
    counts: dict[str, int] = {}
    models = 0
    for node_result in getattr(result.result, "results", None) or []:
        status = str(node_result.status).lower()
        counts[status] = counts.get(status, 0) + 1
        if getattr(node_result.node, "resource_type", "") == "model":
            models += 1
    details = {"select": list(select), "statuses": counts, "raw_tables_created": created}
    return StepResult(step=step, rows_out=models, details=details)
