"""scripts/deploy.py, the deploy CD runs, stage by stage: against moto_server (S3, Secrets Manager), a real
PostgreSQL holding a published mart, and local files. The whole chain against the local twin of AWS with
Airflow is ``make rehearse`` (scripts/rehearse.py)."""

from __future__ import annotations

import json
import shutil
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.config import PROJECT_ROOT
from core.context import RunContext
from core.dbt_runner import SELECT_PUBLISH
from core.mart_schema import AUDIT_TABLE, MART_TABLE
from tests.conftest import DEMO_AS_OF, replay_project_settings
from tests.fakes.s3_server import S3Server, running_s3_server

sys.path.insert(0, str(PROJECT_ROOT))
from scripts import deploy, rehearse

BUCKET = "tn-deploy-test-mwaa"


def terraform_outputs(**values: Any) -> dict[str, Any]:
    """``terraform output -json``'s shape for every output infrastructure/outputs.tf declares."""
    return rehearse.terraform_outputs(
        {**{name: f"{name}-value" for name in rehearse.output_names()}, **values}
    )


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    import requests

    with running_s3_server(monkeypatch) as server:
        # moto's servers in one process share their state: start from an empty account
        requests.post(f"{server.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
        server.create_bucket(BUCKET)
        monkeypatch.setenv("TRENDING_NOW__AWS__ENDPOINT_URL", server.endpoint_url)
        monkeypatch.setenv("TRENDING_NOW__AIRFLOW__DAGS_BUCKET", BUCKET)
        yield server


# ---- the program -------------------------------------------------------------------------------------
def test_help_names_every_stage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        deploy.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for stage in (
        "wheelhouse",
        "apply-outputs",
        "raw-tables",
        "build-warehouse",
        "docs-site",
        "bundle",
        "smoke",
    ):
        assert stage in out


def test_other_modules_add_subcommands(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = types.ModuleType("tn_extra_stage")

    def add_subcommand(subparsers: Any) -> None:
        parser = subparsers.add_parser("extra", help="an extra stage")
        parser.set_defaults(func=lambda args: print(f"extra ran in {args.env}") or 0)

    module.add_subcommand = add_subcommand  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tn_extra_stage", module)
    monkeypatch.setattr(deploy, "SUBCOMMAND_MODULES", ["tn_extra_stage"])
    assert deploy.main(["extra", "--env", "staging"]) == 0
    assert capsys.readouterr().out == "extra ran in staging\n"


# ---- apply-outputs -----------------------------------------------------------------------------------
def _root_with_config(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT / "config", root / "config")
    return root


def deployable_root(tmp_path: Path) -> Path:
    """A project to deploy: config, DVC project and dbt project copied (dbt writes its target there),
    the code linked."""
    root = tmp_path / "project"
    root.mkdir(exist_ok=True)
    if not (root / "config").exists():
        shutil.copytree(PROJECT_ROOT / "config", root / "config")
    if not (root / ".dvc").exists():
        shutil.copytree(PROJECT_ROOT / ".dvc", root / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache"))
    if (root / "dbt_project").is_symlink():
        (root / "dbt_project").unlink()
    shutil.copytree(
        PROJECT_ROOT / "dbt_project", root / "dbt_project", ignore=shutil.ignore_patterns("target", "logs")
    )
    for name in ("dags", ".dvcignore", "pyproject.toml", *deploy._bundle_module().project_packages()):
        (root / name).symlink_to(PROJECT_ROOT / name)
    return root


def test_apply_outputs_writes_every_config_key_into_the_env_config(tmp_path: Path) -> None:
    root = _root_with_config(tmp_path)
    outputs = tmp_path / "tf-outputs.json"
    outputs.write_text(json.dumps(terraform_outputs(warehouse__redshift__port=5439)), encoding="utf-8")
    assert (
        deploy.main(["apply-outputs", "--outputs", str(outputs), "--env", "staging", "--root", str(root)])
        == 0
    )
    config = yaml.safe_load((root / "config" / "staging.yaml").read_text(encoding="utf-8"))
    assert config["warehouse"]["redshift"]["host"] == "warehouse__redshift__host-value"
    assert config["warehouse"]["redshift"]["port"] == 5439
    assert config["airflow"]["dags_bucket"] == "airflow__dags_bucket-value"
    assert config["enrich"]["provider"] == "gemini", "the env's own settings are kept"
    assert "mwaa_webserver_url" not in json.dumps(config), "only config-key outputs are rendered"


def test_apply_outputs_refuses_a_missing_output_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _root_with_config(tmp_path)
    outputs = terraform_outputs()
    del outputs["secrets__aws_secret_id"]
    (tmp_path / "out.json").write_text(json.dumps(outputs), encoding="utf-8")
    before = (root / "config" / "prod.yaml").read_text(encoding="utf-8")
    assert (
        deploy.main(
            ["apply-outputs", "--outputs", str(tmp_path / "out.json"), "--env", "prod", "--root", str(root)]
        )
        == 1
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("deploy apply-outputs: ") and "secrets__aws_secret_id" in err and "\n" not in err
    assert (root / "config" / "prod.yaml").read_text(encoding="utf-8") == before


# ---- secrets -----------------------------------------------------------------------------------------
def test_secrets_come_from_secrets_manager_masked_and_never_printed(
    tmp_path: Path, s3: S3Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    password = "rehearse-Secret-1234"
    sm = boto3.client("secretsmanager", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    sm.create_secret(Name="tn/test", SecretString=json.dumps({"REDSHIFT_PASSWORD": password}))
    root = _root_with_config(tmp_path)
    (root / "dbt_project").symlink_to(PROJECT_ROOT / "dbt_project")
    monkeypatch.setenv("TRENDING_NOW__DBT__LOG_PATH", str(tmp_path / "dbt-logs"))
    monkeypatch.setenv("TRENDING_NOW__SECRETS__AWS_SECRET_ID", "tn/test")
    monkeypatch.setenv("TRENDING_NOW__WAREHOUSE__REDSHIFT__HOST", "127.0.0.1")
    monkeypatch.setenv("TRENDING_NOW__WAREHOUSE__REDSHIFT__PORT", "9")  # nothing listens: the build fails
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code = deploy.main(
        ["build-warehouse", "--target", "redshift", "--full", "--env", "staging", "--root", str(root)]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert f"::add-mask::{password}" in out.splitlines()  # GitHub hides it from every later line
    assert password not in out.replace(f"::add-mask::{password}", "") and password not in err
    assert err.splitlines()[-1].startswith("deploy build-warehouse: ")


# ---- bundle and sync -----------------------------------------------------------------------------------
def test_sync_uploads_what_changed_and_deletes_what_is_gone(tmp_path: Path, s3: S3Server) -> None:
    folder = tmp_path / "bundle"
    (folder / "pkg").mkdir(parents=True)
    (folder / "a.py").write_text("a = 1\n", encoding="utf-8")
    (folder / "pkg" / "b.py").write_text("b = 1\n", encoding="utf-8")
    client = s3.client()
    assert deploy.sync(client, folder, BUCKET, "dags/") == {"files": 2, "uploaded": 2, "deleted": 0}
    assert deploy.sync(client, folder, BUCKET, "dags/") == {"files": 2, "uploaded": 0, "deleted": 0}
    (folder / "a.py").write_text("a = 2\n", encoding="utf-8")
    (folder / "pkg" / "b.py").unlink()
    assert deploy.sync(client, folder, BUCKET, "dags/") == {"files": 1, "uploaded": 1, "deleted": 1}
    assert s3.keys(BUCKET) == ["dags/a.py"]
    assert client.get_object(Bucket=BUCKET, Key="dags/a.py")["Body"].read() == b"a = 2\n"


def test_bundle_syncs_the_dag_folder_with_a_fresh_manifest(
    tmp_path: Path, s3: S3Server, capsys: pytest.CaptureFixture[str]
) -> None:
    root = deployable_root(tmp_path)
    assert deploy.main(["bundle", "--root", str(root)]) == 0
    keys = set(s3.keys(BUCKET))
    assert {"dags/data_ingestion_trending_now.py", deploy.MANIFEST_KEY, "dags/config/base.yaml"} <= keys
    assert "dags/core/config.py" in keys and not any("__pycache__" in k for k in keys)
    assert deploy.MANIFEST_KEY in keys
    lines = capsys.readouterr().out.splitlines()  # Airflow's own warnings may come first (parsing the DAG)
    assert any(line.startswith(f"bundle: s3://{BUCKET}/dags/: ") for line in lines), lines


# ---- smoke ---------------------------------------------------------------------------------------------
def test_smoke_needs_the_airflow_to_test(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TRENDING_NOW_AIRFLOW_URL", raising=False)
    assert deploy.main(["smoke", "--tests", "smoke"]) == 1
    assert (
        capsys.readouterr().err.strip()
        == "deploy smoke: TRENDING_NOW_AIRFLOW_URL is not set: the Airflow to test"
    )


def test_smoke_expects_every_integration_test() -> None:
    """The counts passed to require_tests are the tests tests/integration holds per marker."""
    import subprocess

    for marker, expected in deploy.EXPECTED_TESTS.items():
        listed = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--collect-only",
                "-q",
                "-p",
                "no:cacheprovider",
                str(PROJECT_ROOT / "tests" / "integration"),
                "-m",
                marker,
            ],
            env={**__import__("os").environ, "TRENDING_NOW_IT_LOCAL": "1"},
            capture_output=True,
            text=True,
            check=False,
            cwd=PROJECT_ROOT,
        ).stdout
        assert sum("::" in line for line in listed.splitlines()) == expected, listed


# ---- raw tables and build-warehouse on a PostgreSQL warehouse holding a published mart ---------------
@pytest.mark.postgres
@pytest.mark.slow
def test_build_warehouse_never_touches_the_published_mart(
    tmp_path: Path, pg_database: str, s3: S3Server, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.replay import ReplayServer
    from trending_now import pipeline

    with ReplayServer(PROJECT_ROOT / "data" / "samples") as server:
        settings = replay_project_settings(tmp_path, server, "postgres")
        ctx = RunContext(settings=settings, as_of=DEMO_AS_OF, quiet=True)
        pipeline.run_steps(ctx, pipeline.STEPS)
    published = ctx.warehouse.fetch_all(f"select * from {MART_TABLE} order by id")
    assert published

    root = deployable_root(
        tmp_path
    )  # replay_project_settings' root, the dbt project copied: the 2nd deploy edits it
    args = ["--env", "dev", "--root", str(root)]

    capsys.readouterr()  # the pipeline's own output (its log lines, by the order the worker ran the tests)
    assert deploy.main(["raw-tables", "--target", "postgres", *args]) == 0
    assert capsys.readouterr().out == "raw-tables: created none (all exist)\n"

    _first_deploy(tmp_path / "first.json", args, ctx, published)

    # the bundle puts the manifest of what is now deployed in the bucket
    assert deploy.main(["bundle", "--target", "postgres", *args]) == 0
    capsys.readouterr()

    _second_deploy(tmp_path / "second.json", root, args, ctx, published)


def _build_warehouse(summary: Path, args: list[str]) -> dict[str, Any]:
    assert deploy.main(["build-warehouse", "--target", "postgres", "--summary", str(summary), *args]) == 0
    return json.loads(summary.read_text(encoding="utf-8"))


def _first_deploy(summary: Path, args: list[str], ctx: RunContext, published: list[dict[str, Any]]) -> None:
    """Nothing deployed yet: the whole project, never the published model nor its tests."""
    built = _build_warehouse(summary, args)
    assert built["state"] is None
    assert "movies_tv_shows_enriched_audit" in built["nodes"]["model"]
    assert "movies_tv_shows_enriched" not in built["nodes"]["model"]
    assert not [t for t in built["nodes"].get("test", []) if t.endswith("_movies_tv_shows_enriched_id")]
    assert ctx.warehouse.fetch_all(f"select * from {MART_TABLE} order by id") == published


def _second_deploy(
    summary: Path, root: Path, args: list[str], ctx: RunContext, published: list[dict[str, Any]]
) -> None:
    """One model changed: that model and its children, still never the published one."""
    changed = root / "dbt_project" / "models" / "intermediate" / "int_titles_countries_aggregated.sql"
    changed.write_text(
        changed.read_text(encoding="utf-8") + "\n-- changed by the second deploy\n", encoding="utf-8"
    )
    built = _build_warehouse(summary, args)
    assert built["state"] == "deployed"
    children = rehearse.children(
        root / "dbt_project" / "target" / "manifest.json", "int_titles_countries_aggregated"
    )
    assert set(built["nodes"]["model"]) == {"int_titles_countries_aggregated", *children} - set(SELECT_PUBLISH)
    assert "movies_tv_shows_enriched_audit" in built["nodes"]["model"]
    assert ctx.warehouse.fetch_all(f"select * from {MART_TABLE} order by id") == published
    assert ctx.warehouse.fetch_all(f"select * from {AUDIT_TABLE} order by id") == published


# ---- the rehearsal's twin (scripts/rehearse.py) ---------------------------------------------------------
def test_the_twin_outputs_render_like_terraforms(tmp_path: Path) -> None:
    root = _root_with_config(tmp_path)
    outputs = tmp_path / "tf-outputs.json"
    outputs.write_text(json.dumps(rehearse.twin_outputs(rehearse.pg_env())), encoding="utf-8")
    assert (
        deploy.main(["apply-outputs", "--outputs", str(outputs), "--env", "staging", "--root", str(root)])
        == 0
    )
    config = yaml.safe_load((root / "config" / "staging.yaml").read_text(encoding="utf-8"))
    assert config["airflow"]["dags_bucket"] == rehearse.BUCKETS["mwaa"]
    assert config["secrets"]["aws_secret_id"] == rehearse.SECRET_ID


def test_mwaa_sync_mirrors_the_bucket_into_the_dag_folder(tmp_path: Path, s3: S3Server) -> None:
    client = s3.client()
    client.create_bucket(Bucket=rehearse.BUCKETS["mwaa"])
    for key in ("dags/a.py", "dags/pkg/b.py"):
        client.put_object(Bucket=rehearse.BUCKETS["mwaa"], Key=key, Body=key.encode())
    folder = tmp_path / "dags"
    synced = rehearse.mwaa_sync(s3.endpoint_url, folder, set())
    assert synced == {"a.py", "pkg/b.py"} and (folder / "pkg" / "b.py").read_text() == "dags/pkg/b.py"
    (folder / "written-by-a-task.log").write_text("kept", encoding="utf-8")
    client.delete_object(Bucket=rehearse.BUCKETS["mwaa"], Key="dags/pkg/b.py")
    assert rehearse.mwaa_sync(s3.endpoint_url, folder, synced) == {"a.py"}
    assert not (folder / "pkg" / "b.py").exists()
    assert (folder / "written-by-a-task.log").exists(), "only what a sync brought is removed"


def test_the_task_log_check_finds_errors_not_progress_lines() -> None:
    """Airflow 3 records every stderr line at level error (logger task.stderr): only real errors count."""
    from tests.integration.test_dag_in_environment import _error_lines

    progress = {"level": "error", "logger": "task.stderr", "event": "  · dbt build --select x"}
    assert _error_lines([progress, {"level": "info", "logger": "airflow.task", "event": "ok"}]) == []
    logged = {"level": "error", "logger": "trending_now.airflow.callbacks", "event": "webhook failed"}
    stderr = {"level": "error", "logger": "task.stderr", "event": "12:00:01  ERROR: relation does not exist"}
    traceback = {"level": "error", "logger": "task.stderr", "event": "Traceback (most recent call last):"}
    assert _error_lines([logged, stderr, traceback, progress]) == [
        "webhook failed",
        "12:00:01  ERROR: relation does not exist",
        "Traceback (most recent call last):",
    ]
