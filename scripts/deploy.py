"""The deploy as a program: one subcommand per stage CD runs, in this order (docs/deploy.md).

    deploy.py wheelhouse                                MWAA's plugins.zip + requirements (before terraform)
    deploy.py apply-outputs --outputs tf-outputs.json   Terraform outputs -> config/<APP_ENV>.yaml
    deploy.py raw-tables                                the raw tables dbt's sources read, where missing
    deploy.py eval-gate                                 a prompt/model change passes the evaluation set first
    deploy.py build-warehouse --target redshift         what changed since the deployed manifest, never
                                                        the published model (only the gate publishes)
    deploy.py docs-site --target redshift --outputs F   dbt docs from the warehouse's catalog, to its bucket
    deploy.py bundle                                    the MWAA bundle, synced to <dags bucket>/dags/
    deploy.py smoke --tests integration                 the integration tests, each must run and pass

Settings are the project's (``config/<APP_ENV>.yaml`` + ``TRENDING_NOW__...``); in staging/prod the
secrets (REDSHIFT_PASSWORD...) come from AWS Secrets Manager and are masked in GitHub's log, never printed.
Exit 0 on success, 1 with one line naming the stage and the cause.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python scripts/deploy.py`: the project's packages and scripts/
    sys.path.insert(0, str(ROOT))

from core.config import Settings, load_settings  # noqa: E402
from core.config import project_root as config_root  # noqa: E402
from core.redact import redact  # noqa: E402
from core.text import first_line  # noqa: E402

# Modules that add subcommands: each has ``add_subcommand(subparsers)`` (the parser it adds sets ``func``).
SUBCOMMAND_MODULES: list[str] = ["scripts.slim_ci"]
# Builders of extra bundle content (wheelhouse, plugins.zip): ``module:function(bundle_dir, root)``.
BUNDLE_BUILDERS: list[str] = []

MANIFEST_KEY = "dags/dbt_project/target/manifest.json"  # where `bundle` puts the deployed manifest
DAGS_PREFIX = "dags/"
# The tests `smoke` runs per marker and how many must run and pass (tests/integration).
EXPECTED_TESTS = {"integration": 11, "smoke": 4}


_SECRETS: list[str] = []  # every secret value read, scrubbed from the one-line error


class DeployError(RuntimeError):
    """A stage cannot go on; the message is the one line the user sees."""


# ---- shared ------------------------------------------------------------------------------------------
def project_root(args: argparse.Namespace) -> Path:
    return Path(args.root or config_root()).resolve()


def settings_for(args: argparse.Namespace) -> Settings:
    """The deploy's settings (secrets included, masked in GitHub's log as soon as they are read)."""
    settings = load_settings(args.env, root=project_root(args))
    _SECRETS.extend(settings.secrets.values())
    mask_secrets(settings.secrets.values())
    return settings


def mask_secrets(values: list[str]) -> None:
    """GitHub Actions hides these values from every later log line (``::add-mask::``)."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for value in values:
            print(f"::add-mask::{value}", flush=True)


def s3_client(settings: Settings) -> Any:
    from core.remote import s3_client as client

    return client(settings)


def dags_bucket(settings: Settings) -> str:
    bucket = settings.get("airflow.dags_bucket")
    if not bucket:
        raise DeployError(
            "airflow.dags_bucket is not set (Terraform output airflow__dags_bucket: run apply-outputs)"
        )
    return str(bucket)


def progress(message: str) -> None:
    print(f"  · {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def warehouse_run_lock(settings: Settings) -> Iterator[None]:
    """The pipeline's run lock for this warehouse (``core.run_lock``): a deploy and a daily run never overlap.

    The one place the deploy takes it; the holder names the commit being deployed."""
    from core.run_lock import run_lock
    from core.warehouse import Warehouse

    commit = os.environ.get("GITHUB_SHA", "")[:12] or "local"
    with run_lock(
        Warehouse(settings),
        holder=f"deploy {commit}",
        timeout_setting="run.deploy_lock_timeout_s",
        progress=progress,
    ):
        yield


# ---- apply-outputs -----------------------------------------------------------------------------------
def _render_config() -> Any:
    return importlib.import_module("infrastructure.scripts.render_config")


def apply_outputs(args: argparse.Namespace) -> int:
    """Terraform's outputs (``terraform output -json``) into ``config/<APP_ENV>.yaml``."""
    import yaml

    render = _render_config()
    env = (args.env or os.environ.get("APP_ENV") or "dev").lower()
    config_path = args.config or project_root(args) / "config" / f"{env}.yaml"
    outputs = _read_outputs(args.outputs)
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.exists() else {}
    try:
        rendered = render.render(outputs, config or {})
    except render.RenderError as exc:
        raise DeployError(str(exc)) from exc
    header = "# Rendered by scripts/deploy.py apply-outputs from `terraform output -json`.\n"
    config_path.write_text(header + yaml.safe_dump(rendered, sort_keys=False), encoding="utf-8")
    print(f"apply-outputs: wrote {len(render.config_values(outputs))} keys into {config_path}")
    _set_environment_url((outputs.get("mwaa_webserver_url") or {}).get("value"))
    return 0


def _read_outputs(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DeployError(f"cannot read {path}: {first_line(exc)}") from exc


def _set_environment_url(url: str | None) -> None:
    """The GitHub environment's URL (a step output), when run by GitHub Actions."""
    if url and os.environ.get("GITHUB_OUTPUT"):
        with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
            out.write(f"airflow_url=https://{url}\n")


# ---- raw-tables --------------------------------------------------------------------------------------
def raw_tables(args: argparse.Namespace) -> int:
    """Create the raw tables dbt's sources read where missing (a first deploy has none)."""
    from core.raw_tables import ensure_raw_tables
    from core.warehouse import Warehouse

    settings = settings_for(args)
    if args.target:
        settings = settings.with_overrides({"warehouse.target": args.target})
    created = ensure_raw_tables(Warehouse(settings))
    print(f"raw-tables: created {', '.join(created) if created else 'none (all exist)'}")
    return 0


# ---- build-warehouse ---------------------------------------------------------------------------------
def deployed_manifest(settings: Settings, into: Path) -> Path | None:
    """The manifest of what is deployed (``<dags bucket>/dags/dbt_project/target/manifest.json``) in a
    folder of its own (dbt's ``--state``); None on a first deploy."""
    from botocore.exceptions import ClientError

    bucket = dags_bucket(settings)
    try:
        body = s3_client(settings).get_object(Bucket=bucket, Key=MANIFEST_KEY)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise DeployError(f"cannot read s3://{bucket}/{MANIFEST_KEY}: {first_line(exc)}") from exc
    into.mkdir(parents=True, exist_ok=True)
    (into / "manifest.json").write_bytes(body)
    return into


def build_args(state: Path | None) -> list[str]:
    """``dbt build`` of what changed against ``state`` (everything without one), never the published models:
    it changes only through the pipeline's audit -> gate -> publish. Selected by model name, so every
    version of the published model is left out too."""
    from core.dbt_runner import EXCLUDE_UNIT_TESTS, SELECT_PUBLISH

    changed = ["--select", "state:modified+", "--state", str(state), "--defer"] if state else []
    # the published model and what is published with it (title_availability, titles_new_this_week): built
    # from the published table, after the gate
    return ["build", *changed, "--exclude", *SELECT_PUBLISH, *EXCLUDE_UNIT_TESTS]


def built_nodes(result: Any) -> dict[str, list[str]]:
    """Names of the nodes dbt ran, by resource type (``model``, ``test``, ``seed``...)."""
    nodes: dict[str, list[str]] = {}
    for node_result in getattr(result.result, "results", None) or []:
        node = node_result.node
        nodes.setdefault(str(node.resource_type), []).append(str(node.name))
    return {kind: sorted(names) for kind, names in sorted(nodes.items())}


def build_warehouse(args: argparse.Namespace) -> int:
    """Build what changed since the deployed manifest (the whole project on a first deploy) into the audit
    and upstream relations, under the warehouse's run lock."""
    from core import dbt_runner
    from trending_now.compose import run_context

    settings = settings_for(args).with_overrides({"warehouse.target": args.target})
    with tempfile.TemporaryDirectory(prefix="tn-deploy-") as tmp:
        settings = settings.with_overrides({"dbt.target_path": str(Path(tmp) / "target")})
        state = args.state or (None if args.full else deployed_manifest(settings, Path(tmp) / "state"))
        if state is not None and not (state / "manifest.json").is_file():
            raise DeployError(f"--state {state}: no manifest.json there")
        what = (
            f"state:modified+ against {args.state or 'the deployed manifest'}" if state else "whole project"
        )
        progress(f"build-warehouse --target {args.target}: {what}, without the published model")
        ctx = run_context(settings, run_id="deploy")
        with warehouse_run_lock(settings):
            result = dbt_runner.invoke(ctx, build_args(state))
    nodes = built_nodes(result)
    models = nodes.get("model", [])
    print(f"build-warehouse: {len(models)} model(s) built: {', '.join(models) or 'none'}")
    if args.summary:
        summary = {"target": args.target, "state": "deployed" if state else None, "nodes": nodes}
        args.summary.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 0


# ---- bundle ------------------------------------------------------------------------------------------
def _bundle_module() -> Any:
    return importlib.import_module("scripts.mwaa_bundle")


def parse_manifest(settings: Settings) -> None:
    """``dbt parse --target <the env's warehouse>`` -> ``dbt_project/target/manifest.json``: what Cosmos
    renders, and what the next deploy's ``state:modified`` compares with (parsed for the same target, or
    every node would look modified)."""
    from dbt.cli.main import dbtRunner

    from core.environ import environ
    from core.warehouse import Warehouse

    warehouse = Warehouse(settings)
    project = settings.root / "dbt_project"
    env = {
        **warehouse.dbt_env(),
        "DBT_TARGET_PATH": str(project / "target"),
        "DBT_LOG_PATH": str(
            settings.path("dbt.log_path") if settings.get("dbt.log_path") else project / "logs"
        ),
    }
    args = ["--quiet", "parse", "--project-dir", str(project), "--profiles-dir", str(project)]
    with environ(env):
        result = dbtRunner().invoke([*args, "--target", warehouse.target])
    if not result.success:
        raise DeployError(f"dbt parse failed: {first_line(str(result.exception or 'see dbt_project/logs'))}")


def _etag(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def sync(client: Any, folder: Path, bucket: str, prefix: str) -> dict[str, int]:
    """``aws s3 sync --delete``: upload what differs (by MD5), delete what the folder no longer has."""
    remote: dict[str, str] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        remote.update({obj["Key"]: obj["ETag"].strip('"') for obj in page.get("Contents", [])})
    local = {
        f"{prefix}{p.relative_to(folder).as_posix()}": p for p in sorted(folder.rglob("*")) if p.is_file()
    }
    uploaded = 0
    for key, path in local.items():
        if remote.get(key) != _etag(path):
            client.upload_file(str(path), bucket, key)
            uploaded += 1
    stale = sorted(set(remote) - set(local))
    for start in range(0, len(stale), 1000):
        client.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[start : start + 1000]]}
        )
    return {"files": len(local), "uploaded": uploaded, "deleted": len(stale)}


def bundle(args: argparse.Namespace) -> int:
    """The MWAA bundle (scripts/mwaa_bundle.py + BUNDLE_BUILDERS) synced to ``<dags bucket>/dags/``."""
    root = project_root(args)
    settings = settings_for(args)
    if args.target:
        settings = settings.with_overrides({"warehouse.target": args.target})
    parse_manifest(settings)
    with tempfile.TemporaryDirectory(prefix="tn-bundle-") as tmp:
        out = args.out or Path(tmp) / "bundle"
        entries = _bundle_module().build_bundle(out, root)
        for spec in BUNDLE_BUILDERS:
            module, _, function = spec.partition(":")
            getattr(importlib.import_module(module), function)(out, root)
        progress(f"bundle: {' '.join(entries)}")
        if args.no_sync:
            print(f"bundle: built in {out} (not synced)")
            return 0
        bucket = dags_bucket(settings)
        counts = sync(s3_client(settings), out, bucket, DAGS_PREFIX)
    print(
        f"bundle: s3://{bucket}/{DAGS_PREFIX}: {counts['files']} file(s), {counts['uploaded']} uploaded, "
        f"{counts['deleted']} deleted"
    )
    return 0


# ---- eval-gate ---------------------------------------------------------------------------------------
def eval_gate(args: argparse.Namespace) -> int:
    """``trending-now eval --before-deploy``: when the deployed enrichment model or prompt version differs from
    the accepted Gemini baseline, Gemini (the environment's key) runs the evaluation set and must pass the
    gate before anything ships; else no call (docs/evaluation.md)."""
    from core.warehouse import Warehouse
    from reporting.evaluation import check_before_deploy

    settings = settings_for(args)
    result = check_before_deploy(Warehouse(settings), settings, always=args.always)
    for line in result.lines:
        print(line)
    if not result.passed:
        raise DeployError(
            "the evaluation gate failed (lines above): the prompt or model change does not ship"
        )
    return 0


# ---- wheelhouse ---------------------------------------------------------------------------------------
def wheelhouse(args: argparse.Namespace) -> int:
    """MWAA's wheelhouse (``scripts/mwaa_wheelhouse.py``): ``build/mwaa/plugins.zip`` and the requirements file
    that installs from it with the index off; ``terraform apply`` uploads both, so this runs before the plan."""
    module = importlib.import_module("scripts.mwaa_wheelhouse")
    plugins = module.build_plugins_zip(args.out or project_root(args) / "build" / "mwaa")
    print(f"wheelhouse: {plugins}")
    return 0


# ---- smoke -------------------------------------------------------------------------------------------
def smoke(args: argparse.Namespace) -> int:
    """tests/integration against the deployed Airflow; every selected test must run and pass."""
    expected = args.expected_tests if args.expected_tests is not None else EXPECTED_TESTS[args.tests]
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "scripts.require_tests",
        "--expected-tests",
        str(expected),
        "-p",
        "no:cacheprovider",
        str(ROOT / "tests" / "integration"),
        "-q",
        "-m",
        args.tests,
    ]
    env = {**os.environ, "TRENDING_NOW_IT_LOCAL": "0", "TRENDING_NOW_ROOT": str(project_root(args))}
    if args.env:
        env["APP_ENV"] = args.env
    if not env.get("TRENDING_NOW_AIRFLOW_URL"):
        raise DeployError("TRENDING_NOW_AIRFLOW_URL is not set: the Airflow to test")
    progress(f"smoke: pytest tests/integration -m {args.tests} ({expected} tests, each must run and pass)")
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


# ---- the program -------------------------------------------------------------------------------------
def _add_common(parser: argparse.ArgumentParser) -> None:
    """``--env`` and ``--root`` on every stage (unless a registered stage defines its own)."""
    options = parser._option_string_actions
    if "--env" not in options:
        parser.add_argument("--env", help="APP_ENV of the settings (default $APP_ENV, else dev)")
    if "--root" not in options:
        parser.add_argument(
            "--root", type=Path, help="project root (default $TRENDING_NOW_ROOT, else this checkout)"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deploy.py",
        description="\n\n".join(__doc__.split("\n\n")[:2]),
        epilog="Each stage: deploy.py <stage> --help. docs/deploy.md has the order and the local rehearsal.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="stage", required=True, metavar="<stage>")

    p = sub.add_parser(
        "wheelhouse", help="MWAA's plugins.zip (the wheels) and requirements file, for terraform"
    )
    p.add_argument(
        "--out", type=Path, help="where to write them (default build/mwaa/, where Terraform reads)"
    )
    p.set_defaults(func=wheelhouse)

    p = sub.add_parser("apply-outputs", help="render `terraform output -json` into config/<APP_ENV>.yaml")
    p.add_argument("--outputs", type=Path, required=True, help="the file `terraform output -json` wrote")
    p.add_argument("--config", type=Path, help="the config file to update (default config/<APP_ENV>.yaml)")
    p.set_defaults(func=apply_outputs)

    p = sub.add_parser("raw-tables", help="create the raw tables dbt's sources read, where missing")
    p.add_argument("--target", choices=("duckdb", "postgres", "redshift"), help="warehouse (default: config)")
    p.set_defaults(func=raw_tables)

    p = sub.add_parser("eval-gate", help="a prompt or model change passes the evaluation set before it ships")
    p.add_argument("--always", action="store_true", help="run the evaluation set even with nothing changed")
    p.set_defaults(func=eval_gate)

    p = sub.add_parser(
        "build-warehouse",
        help="dbt build of what changed (state:modified+, --defer), never the published model",
        description=build_warehouse.__doc__,
    )
    p.add_argument("--target", required=True, choices=("duckdb", "postgres", "redshift"), help="dbt target")
    p.add_argument(
        "--state", type=Path, help="folder with the deployed manifest.json (default: from the bucket)"
    )
    p.add_argument(
        "--full", action="store_true", help="build the whole project (ignore the deployed manifest)"
    )
    p.add_argument("--summary", type=Path, help="write what dbt ran to this JSON file")
    p.set_defaults(func=build_warehouse)

    p = sub.add_parser("bundle", help="build the MWAA bundle and sync it to <dags bucket>/dags/")
    p.add_argument(
        "--target", choices=("duckdb", "postgres", "redshift"), help="dbt target (default: config)"
    )
    p.add_argument("--out", type=Path, help="build the bundle in this folder (default: a temporary one)")
    p.add_argument("--no-sync", action="store_true", help="only build the bundle")
    p.set_defaults(func=bundle)

    p = sub.add_parser("smoke", help="the integration tests against the deployed Airflow (all must pass)")
    p.add_argument("--tests", choices=sorted(EXPECTED_TESTS), default="integration", help="pytest marker")
    p.add_argument(
        "--expected-tests", type=int, help="tests that must run, exactly (default: the marker's count)"
    )
    p.set_defaults(func=smoke)

    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).add_subcommand(sub)
    for choice in sub.choices.values():
        _add_common(choice)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except Exception as exc:  # one line, secrets scrubbed; the traceback is for a debugger, not the log
        print(f"deploy {args.stage}: {redact(first_line(exc), _SECRETS)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
