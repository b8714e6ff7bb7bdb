"""dbt as analysts' teams run it: Slim CI into per-change schemas, and the docs site from the warehouse.

Two subcommands of ``scripts/deploy.py`` (:func:`add_subcommand` registers them):

``ci-build --target <duckdb|postgres|redshift> --state <dir> [--cleanup]``
    ``dbt build --select state:modified+ --defer --state <dir>``: the models a change modified and their
    children, with their data and unit tests, built into schemas named for the change (the target's CI
    profile, ``DBT_CI_SCHEMA``: ``ci_pr_<n>_staging``, ``ci_pr_<n>_marts``, ...) while every unmodified
    parent is read from production (the manifest in ``<dir>``, the deployed one). It prints the nodes it
    selected, then the build's result; ``--cleanup`` drops the change's schemas afterwards. A breaking change
    to an enforced contract (a column removed, renamed or retyped) fails it with dbt's error, unless it comes
    as a new model version. The published relations are never written: the CI profiles are not among
    ``shared_schema_targets``, so dbt prefixes every schema, and the build refuses any node outside them.

``docs-site --target <t> [--bucket B] [--distribution-id D]``
    ``dbt docs generate --static`` from the target warehouse's catalog (column types as the warehouse has
    them), then, with ``--bucket``, uploads the site to the private bucket the Terraform module
    ``docs_site`` creates and invalidates its CloudFront distribution.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python scripts/deploy.py` puts scripts/, not the project, on the path
    sys.path.insert(0, str(ROOT))

from core.config import project_root  # noqa: E402
from core.dbt_relations import DBT_PROJECT_DIR, profile_name, shared_schema_targets  # noqa: E402

# The profile (dbt_project/profiles.yml) each warehouse target builds a change with: its schema is
# DBT_CI_SCHEMA, which prefixes every model's schema (macros/generate_schema_name.sql).
CI_TARGETS = {"duckdb": "ci_duckdb", "postgres": "ci", "redshift": "ci_redshift"}
CI_SCHEMA_ENV = "DBT_CI_SCHEMA"
_CI_SCHEMA = re.compile(r"ci(_[a-z0-9_]+)?")
# Turned into errors: a breaking change to an unversioned contracted model (a versioned one raises
# ContractBreakingChangeError on its own).
WARN_ERROR = json.dumps({"error": ["UnversionedBreakingChange"]})
DBT_ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}


class CiBuildError(RuntimeError):
    """ci-build could not run or its build failed: one line, or dbt's own error whole."""


# ---- the change's schema -------------------------------------------------------------------------------
def ci_schema(environ: Mapping[str, str], git_branch: str | None = None) -> str:
    """The schema prefix of a change: ``$DBT_CI_SCHEMA``, else ``ci_pr_<n>`` on a GitHub pull request
    (``GITHUB_REF=refs/pull/<n>/merge``), else ``ci_<branch>``. Always ``ci`` or ``ci_<...>``: never a
    published schema."""
    explicit = (environ.get(CI_SCHEMA_ENV) or "").strip().lower()
    if explicit:
        if not _CI_SCHEMA.fullmatch(explicit):
            raise CiBuildError(
                f"{CI_SCHEMA_ENV}={explicit!r}: a CI schema is `ci` or `ci_<letters, digits, _>`"
            )
        return explicit
    if match := re.fullmatch(r"refs/pull/(\d+)/merge", environ.get("GITHUB_REF", "")):
        return f"ci_pr_{match.group(1)}"
    branch = git_branch if git_branch is not None else _git_branch()
    slug = re.sub(r"[^a-z0-9]+", "_", branch.lower()).strip("_")[:40]
    return f"ci_{slug}" if slug else "ci"


def _git_branch() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.stdout.strip()


# ---- dbt -----------------------------------------------------------------------------------------------
def warehouse_env(target: str) -> dict[str, str]:
    """What profiles.yml reads for ``target``: the settings' values (``Warehouse.dbt_env``) where they
    resolve, the process environment's where it sets them (CI exports PG*/REDSHIFT_* itself)."""
    from core.config import ConfigError, load_settings
    from core.warehouse import Warehouse

    try:
        settings = load_settings().with_overrides({"warehouse.target": target})
        env = Warehouse(settings).dbt_env()
    except ConfigError:
        env = {}
    return {**env, **{name: os.environ[name] for name in env if os.environ.get(name)}}


@contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    from core.environ import environ

    with environ(values):
        yield


def dbt(args: Sequence[str], *, project_dir: Path, target_path: Path, env: Mapping[str, str]) -> Any:
    """``dbt <args>`` in-process with the project's own profiles; the dbtRunnerResult."""
    from dbt.cli.main import dbtRunner

    full = [
        *args,
        "--project-dir", str(project_dir),
        "--profiles-dir", str(project_dir),
        "--profile", profile_name(project_dir),
        "--target-path", str(target_path),
        "--log-path", str(target_path / "logs"),
    ]  # fmt: skip
    with _environ({**DBT_ENV, **env}):
        return dbtRunner().invoke(full)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines and lines[0].endswith(":") else (lines[0] if lines else "")


def failure(result: Any) -> str:
    """The failing nodes of a dbt result, one line; or dbt's error (its exception), whole."""
    if result.exception is not None:  # dbt's whole message: a breaking change lists the columns it found
        lines = [line.rstrip() for line in str(result.exception).strip().splitlines() if line.strip()]
        return "\n  ".join(lines) or repr(result.exception)
    failed = [
        f"{getattr(getattr(r, 'node', None), 'unique_id', 'dbt')} ({r.status}: {_first_line(r.message or '')})"
        for r in getattr(result.result, "results", None) or []
        if str(r.status).lower() in ("error", "fail", "runtime error")
    ]
    return "; ".join(failed[:8]) or "see the dbt log"


def selected_nodes(
    state: Path, *, ci_target: str, project_dir: Path, target_path: Path, env: Mapping[str, str]
) -> list[dict[str, Any]]:
    """``dbt ls --select state:modified+``: every node the build will run (models, seeds, snapshots, data and
    unit tests) with its relation. Raises with dbt's message on a breaking contract change."""
    result = dbt(
        ["--quiet", "--warn-error-options", WARN_ERROR, "ls", "--select", "state:modified+", "--state", str(state),
         "--output", "json", "--output-keys", "unique_id resource_type name schema alias", "--target", ci_target],
        project_dir=project_dir, target_path=target_path, env=env,
    )  # fmt: skip
    if not result.success:
        raise CiBuildError(f"dbt ls --select state:modified+ failed: {failure(result)}")
    return [json.loads(line) for line in result.result or []]


def check_schemas(nodes: Sequence[dict[str, Any]], prefix: str, shared: Sequence[str]) -> None:
    """Refuse a build that would write outside the change's schemas (``<prefix>`` and ``<prefix>_*``)."""
    outside = [
        f"{n['unique_id']} -> {n['schema']}"
        for n in nodes
        if n.get("resource_type") in ("model", "seed", "snapshot")
        and not (n["schema"] == prefix or str(n["schema"]).startswith(f"{prefix}_"))
    ]
    if outside or prefix in shared:
        raise CiBuildError(
            f"ci-build would write outside the {prefix}_* schemas: {'; '.join(outside) or prefix}"
        )


def describe(nodes: Sequence[dict[str, Any]]) -> list[str]:
    """One line per selected node: kind, name and the relation a built node goes to."""
    lines = []
    for node in sorted(nodes, key=lambda n: (n["resource_type"], n["unique_id"])):
        where = (
            f" -> {node['schema']}.{node['alias']}"
            if node["resource_type"] in ("model", "seed", "snapshot")
            else ""
        )
        lines.append(f"  {node['resource_type']:<9} {node['unique_id']}{where}")
    return lines


def drop_ci_schemas(*, ci_target: str, project_dir: Path, target_path: Path, env: Mapping[str, str]) -> None:
    """``dbt run-operation drop_ci_schemas``: the CI profile's schema and every ``<schema>_*`` one."""
    result = dbt(
        ["run-operation", "drop_ci_schemas", "--target", ci_target],
        project_dir=project_dir, target_path=target_path, env=env,
    )  # fmt: skip
    if not result.success:
        raise CiBuildError(f"dbt run-operation drop_ci_schemas failed: {failure(result)}")


def _build_changed(state: Path, ci_target: str, out: Any, **kwargs: Any) -> dict[str, int]:
    """``dbt build`` of what changed against ``state`` and its children (the rest deferred); the count of
    each node status. A failed build raises :class:`CiBuildError`."""
    result = dbt(
        ["--warn-error-options", WARN_ERROR, "build", "--select", "state:modified+", "--defer",
         "--state", str(state), "--target", ci_target],
        **kwargs,
    )  # fmt: skip
    statuses: dict[str, int] = {}
    for node_result in getattr(result.result, "results", None) or []:
        status = str(node_result.status).lower()
        statuses[status] = statuses.get(status, 0) + 1
    print(f"dbt build: {json.dumps(statuses, sort_keys=True)}", file=out)
    if not result.success:
        raise CiBuildError(f"dbt build --select state:modified+ failed: {failure(result)}")
    return statuses


def _state_manifest(target: str, state: Path) -> Path:
    """The deployed project's manifest under ``state``; a clear error for an unknown target or no manifest."""
    if target not in CI_TARGETS:
        raise CiBuildError(f"--target {target!r} is not one of {', '.join(CI_TARGETS)}")
    manifest = state / "manifest.json"
    if not manifest.is_file():
        raise CiBuildError(f"--state {state}: no manifest.json there (the deployed project's dbt manifest)")
    return manifest


def ci_build(
    target: str,
    state: Path,
    *,
    cleanup: bool = False,
    schema: str | None = None,
    project_dir: Path = DBT_PROJECT_DIR,
    target_path: Path | None = None,
    out: Any = None,
) -> dict[str, Any]:
    """Build what changed against ``state`` into the change's schemas; the selected nodes and statuses."""
    out = out or sys.stdout
    manifest = _state_manifest(target, state)
    prefix = ci_schema({**os.environ, **({CI_SCHEMA_ENV: schema} if schema else {})})
    ci_target = CI_TARGETS[target]
    target_path = target_path or project_dir / "target" / "ci-build"
    env = {**warehouse_env(target), CI_SCHEMA_ENV: prefix}
    kwargs: dict[str, Any] = {"project_dir": project_dir, "target_path": target_path, "env": env}

    print(f"ci-build: target {ci_target} ({target}), schemas {prefix}_*, state {manifest}", file=out)
    summary: dict[str, Any] = {"schema": prefix, "target": ci_target, "selected": [], "statuses": {}}
    try:
        nodes = selected_nodes(state, ci_target=ci_target, **kwargs)
        summary["selected"] = nodes
        check_schemas(nodes, prefix, shared_schema_targets(project_dir))
        print(f"selected {len(nodes)} node(s) (state:modified+):", file=out)
        print("\n".join(describe(nodes)) or "  none: nothing changed against the state", file=out)
        if nodes:
            summary["statuses"] = _build_changed(state, ci_target, out, **kwargs)
    finally:
        if cleanup:
            drop_ci_schemas(ci_target=ci_target, **kwargs)
            print(f"dropped the schemas {prefix} and {prefix}_*", file=out)
    return summary


# ---- the docs site -------------------------------------------------------------------------------------
SITE_FILES = {
    "static_index.html": "index.html",
    "manifest.json": "manifest.json",
    "catalog.json": "catalog.json",
}
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".json": "application/json"}


def generate_docs(
    target: str, *, project_dir: Path = DBT_PROJECT_DIR, target_path: Path | None = None
) -> Path:
    """``dbt docs generate --static --target <target>``: the site (one HTML file with the manifest and the
    warehouse's catalog inside, plus both JSON files) in ``target_path``."""
    target_path = target_path or project_dir / "target"
    result = dbt(
        ["docs", "generate", "--static", "--target", target],
        project_dir=project_dir, target_path=target_path, env=warehouse_env(target),
    )  # fmt: skip
    if not result.success:
        raise CiBuildError(f"dbt docs generate --target {target} failed: {failure(result)}")
    return target_path


def publish_docs(
    site: Path,
    bucket: str,
    *,
    distribution_id: str | None = None,
    prefix: str = "",
    s3: Any = None,
    cloudfront: Any = None,
) -> list[str]:
    """Upload the site to ``s3://<bucket>/<prefix>`` (``index.html`` is the static page) and invalidate the
    distribution's cache; the keys written."""
    import boto3

    s3 = s3 or boto3.client("s3")
    keys = []
    for name, key in SITE_FILES.items():
        path = site / name
        if not path.is_file():
            raise CiBuildError(f"{path} is missing: run dbt docs generate --static first")
        full_key = f"{prefix.strip('/')}/{key}".lstrip("/")
        s3.put_object(
            Bucket=bucket,
            Key=full_key,
            Body=path.read_bytes(),
            ContentType=CONTENT_TYPES[path.suffix],
            CacheControl="no-cache",
        )
        keys.append(full_key)
    if distribution_id:
        cloudfront = cloudfront or boto3.client("cloudfront")
        cloudfront.create_invalidation(
            DistributionId=distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": 1, "Items": ["/*"]},
                "CallerReference": os.urandom(8).hex(),
            },
        )
    return keys


def project_dbt_dir() -> Path:
    """The dbt project of the project being deployed (``$TRENDING_NOW_ROOT``, else this checkout): a deploy
    of a copy (the rehearsal's) never writes into this checkout's ``dbt_project/target``."""
    return project_root() / "dbt_project"


# ---- the subcommands -----------------------------------------------------------------------------------
def _run_ci_build(args: argparse.Namespace) -> int:
    try:
        ci_build(
            args.target,
            args.state,
            cleanup=args.cleanup,
            schema=args.schema,
            project_dir=args.project_dir or project_dbt_dir(),
            target_path=args.target_path,
        )
    except CiBuildError as exc:
        print(f"ci-build: {exc}", file=sys.stderr)
        return 1
    return 0


def terraform_outputs(path: Path) -> dict[str, str]:
    """``terraform output -json``'s values: the docs site's bucket and distribution."""
    outputs = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: str(outputs[name]["value"])
        for name in ("docs_site_bucket", "docs_site_distribution_id")
        if name in outputs
    }


def _s3_client() -> Any:
    """S3 as the project's settings reach it (``core.remote``: a local twin's endpoint too)."""
    from core.config import load_settings
    from core.remote import s3_client

    return s3_client(load_settings())


def _run_docs_site(args: argparse.Namespace) -> int:
    if args.outputs:
        outputs = terraform_outputs(args.outputs)
        args.bucket = args.bucket or outputs.get("docs_site_bucket")
        args.distribution_id = args.distribution_id or outputs.get("docs_site_distribution_id")
    try:
        site = generate_docs(
            args.target, project_dir=args.project_dir or project_dbt_dir(), target_path=args.target_path
        )
        print(f"docs-site: generated {site / 'static_index.html'} from the {args.target} catalog")
        if args.bucket:
            keys = publish_docs(
                site, args.bucket, distribution_id=args.distribution_id, prefix=args.prefix, s3=_s3_client()
            )
            print(f"docs-site: uploaded {', '.join(keys)} to s3://{args.bucket}")
    except CiBuildError as exc:
        print(f"docs-site: {exc}", file=sys.stderr)
        return 1
    return 0


def add_subcommand(subparsers: Any) -> None:
    """Register ``ci-build`` and ``docs-site`` on ``scripts/deploy.py``'s subparsers."""
    ci = subparsers.add_parser(
        "ci-build",
        help="Slim CI: build state:modified+ with --defer into the change's schemas, with its tests",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ci.add_argument("--target", required=True, choices=sorted(CI_TARGETS), help="the warehouse to build on")
    ci.add_argument(
        "--state", required=True, type=Path, help="folder with the deployed project's manifest.json"
    )
    ci.add_argument(
        "--cleanup", action="store_true", help="drop the change's schemas when done (even on failure)"
    )
    ci.add_argument(
        "--schema", help=f"the change's schema prefix (default ${CI_SCHEMA_ENV}, ci_pr_<n>, ci_<branch>)"
    )
    ci.add_argument("--project-dir", type=Path, default=None, help=argparse.SUPPRESS)
    ci.add_argument(
        "--target-path", type=Path, default=None, help="dbt's artifacts (default <project>/target/ci-build)"
    )
    ci.set_defaults(func=_run_ci_build)

    docs = subparsers.add_parser(
        "docs-site",
        help="dbt docs generate --static from the target warehouse's catalog; upload it to the docs bucket",
    )
    docs.add_argument(
        "--target", required=True, choices=sorted(CI_TARGETS), help="the warehouse whose catalog"
    )
    docs.add_argument(
        "--bucket", help="the docs site bucket (Terraform output docs_site_bucket); none: only generate"
    )
    docs.add_argument(
        "--distribution-id", help="its CloudFront distribution (output docs_site_distribution_id)"
    )
    docs.add_argument(
        "--outputs", type=Path, help="`terraform output -json` file: --bucket and --distribution-id from it"
    )
    docs.add_argument("--prefix", default="", help="key prefix in the bucket (default: the root)")
    docs.add_argument("--project-dir", type=Path, default=None, help=argparse.SUPPRESS)
    docs.add_argument(
        "--target-path", type=Path, default=None, help="dbt's artifacts (default <project>/target)"
    )
    docs.set_defaults(func=_run_docs_site)
