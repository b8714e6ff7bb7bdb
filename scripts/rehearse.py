"""``make rehearse``: the whole CD (scripts/deploy.py, stage by stage) against a local twin of AWS.

The twin: moto_server as S3 and Secrets Manager (the buckets and the app secret Terraform makes, and the
outputs file written as ``terraform output -json`` writes it, with every output infrastructure/outputs.tf
declares); PostgreSQL as the warehouse, in a database of its own (``trending_now_rehearse``, created and
dropped here); the local Airflow 3 stack (tests/integration/local_stack.py) as MWAA, its DAG folder
downloaded from the bucket the bundle was synced to, as MWAA does. The sources are the recorded samples
behind the replay server, the enrichment the heuristic provider.

1. first deploy: apply-outputs -> raw-tables -> build-warehouse (nothing deployed yet: the whole
   project, never the published model) -> bundle -> MWAA syncs -> smoke --tests integration (tests/
   integration: triggers the DAG for one day, polls it to the end, checks the export and its md5, the DVC
   manifest on the remote, the published rows and their schema, the run report on S3, no ERROR in the
   task logs);
2. second deploy with one model changed: build-warehouse builds only that model and its children, the
   published table is left as it was (same rows, same relation); the next gated run (the DAG run's
   validate_mart and what follows it, cleared) publishes it again.

Everything (ports, database, folders) is its own; it stops its processes and drops its database on the way
out, whatever happened. Exit 0 when every check passed; the times of each part are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.mart_schema import AUDIT_TABLE, MART_TABLE  # noqa: E402

DATABASE = "trending_now_rehearse"
APP_ENV = "staging"
DAY = "2026-11-20"  # the recorded samples' day
CHANGED_MODEL = "int_titles_countries_aggregated"  # the second deploy's change (a comment: checksum only)
SECRET_ID = "trending-now/rehearse"
BUCKETS = {
    "mwaa": "tn-rehearse-mwaa",
    "dvc": "tn-rehearse-dvc",
    "raw": "tn-rehearse-raw",
    "docs": "tn-rehearse-docs",
}
# what a deploy ships (scripts/mwaa_bundle.py reads these), copied into the source tree the rehearsal deploys
SOURCE = ("dags", "config", "dbt_project", ".dvc", ".dvcignore", "pyproject.toml")


class RehearsalFailed(RuntimeError):
    """A stage or a check of the rehearsal failed; the message says which."""


class Background:
    """Run ``work`` in a thread; ``join()`` waits for it and raises what it raised."""

    def __init__(self, work: Callable[[], object]) -> None:
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(work,), name="rehearse-background", daemon=True
        )
        self._thread.start()

    def _run(self, work: Callable[[], object]) -> None:
        try:
            work()
        except BaseException as exc:  # handed to join()
            self.error = exc

    def join(self, raise_error: bool = True) -> None:
        self._thread.join()
        if self.error is not None and raise_error:
            raise RehearsalFailed(f"the local Airflow did not start: {self.error}")


@dataclass
class Clock:
    start: float = field(default_factory=time.monotonic)
    parts: list[tuple[str, float]] = field(default_factory=list)

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        print(f"== rehearse: {name}", flush=True)
        try:
            yield
        finally:
            self.parts.append((name, time.monotonic() - began))

    def table(self) -> str:
        rows = [f"  {seconds:6.1f} s  {name}" for name, seconds in self.parts]
        return "\n".join([*rows, f"  {time.monotonic() - self.start:6.1f} s  total"])


# ---- the twin of AWS -----------------------------------------------------------------------------------
def output_names() -> list[str]:
    """The outputs infrastructure/outputs.tf declares."""
    return re.findall(
        r'^output "([^"]+)"', (ROOT / "infrastructure" / "outputs.tf").read_text(encoding="utf-8"), re.M
    )


def terraform_outputs(values: dict[str, Any]) -> dict[str, Any]:
    """``terraform output -json`` for every output of infrastructure/outputs.tf (those without a value empty)."""
    names = output_names()
    missing = sorted(set(values) - set(names))
    if missing:
        raise RehearsalFailed(f"outputs.tf no longer declares {', '.join(missing)}")
    return {name: {"sensitive": False, "type": "string", "value": values.get(name, "")} for name in names}


def twin_outputs(pg: dict[str, str]) -> dict[str, Any]:
    return terraform_outputs(
        {
            "warehouse__redshift__host": pg["PGHOST"],  # the twin's warehouse is PostgreSQL (docs/deploy.md)
            "warehouse__redshift__port": 5439,
            "warehouse__redshift__database": DATABASE,
            "warehouse__redshift__iam_role_arn": "arn:aws:iam::123456789012:role/tn-rehearse-redshift-copy",
            "warehouse__redshift__staging_bucket_url": f"s3://{BUCKETS['raw']}/dlt-staging",
            "dvc__s3_url": f"s3://{BUCKETS['dvc']}/trending-now",
            "secrets__aws_secret_id": SECRET_ID,
            "aws__region": "us-east-1",
            "airflow__dags_bucket": BUCKETS["mwaa"],
            "mwaa_environment_name": "tn-rehearse",
            "mwaa_webserver_url": "127.0.0.1",
            "mwaa_dag_s3_path": "dags",
            "docs_site_bucket": BUCKETS["docs"],
        }
    )


def make_twin(endpoint: str, pg: dict[str, str]) -> None:
    """What ``terraform apply`` makes that the deploy reads: the buckets and the app secret."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    for bucket in BUCKETS.values():
        s3.create_bucket(Bucket=bucket)
    secrets = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1")
    values = {"TMDB_API_KEY": "replay", "GUARDIAN_API_KEY": "replay", "PGPASSWORD": pg["PGPASSWORD"]}
    secrets.create_secret(Name=SECRET_ID, SecretString=json.dumps(values))


def mwaa_sync(endpoint: str, folder: Path, previous: set[str]) -> set[str]:
    """What MWAA does with its bucket: ``<bucket>/dags/`` into the local DAG folder, in place (each file
    replaced whole), and the files a previous sync brought but the bucket no longer has removed."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    keys = {
        obj["Key"].removeprefix("dags/")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKETS["mwaa"], Prefix="dags/")
        for obj in page.get("Contents", [])
    }
    for key in sorted(keys):
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(BUCKETS["mwaa"], f"dags/{key}", str(path))  # a temporary file renamed into place
    for key in previous - keys:
        (folder / key).unlink(missing_ok=True)
    return keys


# ---- PostgreSQL ----------------------------------------------------------------------------------------
def pg_env() -> dict[str, str]:
    return {
        "PGHOST": os.environ.get("PGHOST", "127.0.0.1"),
        "PGPORT": os.environ.get("PGPORT", "5432"),
        "PGUSER": os.environ.get("PGUSER", "trending_now"),
        "PGPASSWORD": os.environ.get("PGPASSWORD", "trending_now"),
    }


def _admin(pg: dict[str, str]) -> Any:
    import psycopg2

    conn = psycopg2.connect(
        host=pg["PGHOST"],
        port=int(pg["PGPORT"]),
        user=pg["PGUSER"],
        password=pg["PGPASSWORD"],
        dbname="postgres",
        connect_timeout=5,
    )
    conn.autocommit = True
    return conn


@contextlib.contextmanager
def rehearsal_database(pg: dict[str, str]) -> Iterator[str]:
    """``trending_now_rehearse``, fresh, dropped afterwards (never the shared ``trending_now`` database)."""
    conn = _admin(pg)
    try:
        with conn.cursor() as cur:
            cur.execute(f'drop database if exists "{DATABASE}" with (force)')
            cur.execute(f'create database "{DATABASE}"')
        yield DATABASE
    finally:
        with conn.cursor() as cur:
            cur.execute(f'drop database if exists "{DATABASE}" with (force)')
        conn.close()


def _query(pg: dict[str, str], sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    import psycopg2

    params_ = {
        "host": pg["PGHOST"],
        "port": int(pg["PGPORT"]),
        "user": pg["PGUSER"],
        "password": pg["PGPASSWORD"],
    }
    with contextlib.closing(psycopg2.connect(**params_, dbname=DATABASE)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def warehouse_rows(pg: dict[str, str], table: str) -> list[tuple[Any, ...]]:
    return _query(pg, f"select * from {table} order by id")  # noqa: S608 - constant identifiers (mart_schema)


def relation_oid(pg: dict[str, str], table: str) -> int:
    """The relation's id: dbt's table materialization swaps a new relation in, so a rebuild changes it."""
    return int(_query(pg, "select %s::regclass::oid", [table])[0][0])


# ---- the deploy --------------------------------------------------------------------------------------------
def source_tree(tmp: Path) -> Path:
    """The checkout to deploy (the second deploy edits a model in it): what the bundle ships, copied."""
    from scripts.mwaa_bundle import project_packages

    source = tmp / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "target", "logs", "tmp", "cache", ".user.yml")
    for name in [*SOURCE, *project_packages(ROOT)]:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, source / name, ignore=ignore)
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, source / name)
    (source / "data").mkdir()
    (source / "data" / "samples").symlink_to(ROOT / "data" / "samples")
    return source


def project_env(tmp: Path, endpoint: str, replay: dict[str, str], pg: dict[str, str]) -> dict[str, str]:
    """The environment of the deploy and of the twin's Airflow: where the twin differs from AWS's config."""
    from tests.dags.conftest import clean_environ
    from tests.fakes.s3_server import FAKE_CREDENTIALS

    env = {k: v for k, v in clean_environ().items() if not k.startswith(("PG", "AWS_"))}
    overrides = {
        "warehouse.target": "postgres",  # Redshift's stand-in (docs/deploy.md)
        "warehouse.postgres.host": pg["PGHOST"],
        "warehouse.postgres.port": pg["PGPORT"],
        "warehouse.postgres.user": pg["PGUSER"],
        "warehouse.postgres.database": DATABASE,  # the password comes from the secret, as REDSHIFT_PASSWORD does
        "warehouse.pipelines_dir": str(tmp / "work" / ".dlt"),
        "reviews.cache_dir": str(tmp / "work" / "http-cache"),
        "reviews.per_host_rps": "50",  # every recorded site is one local host
        "enrich.provider": "heuristic",
        "dvc.site_cache_dir": str(tmp / "work" / "dvc-site-cache"),
        "dbt.log_path": str(tmp / "work" / "dbt-logs"),
        "aws.endpoint_url": endpoint,
        "airflow.retries": "0",
        **replay,
    }
    env.update({f"TRENDING_NOW__{key.upper().replace('.', '__')}": value for key, value in overrides.items()})
    env.update(FAKE_CREDENTIALS)
    env["APP_ENV"] = APP_ENV
    return env


def stage(env: dict[str, str], *args: str) -> None:
    cmd = [sys.executable, str(ROOT / "scripts" / "deploy.py"), *args]
    print(f"$ scripts/deploy.py {' '.join(args)}", flush=True)
    if subprocess.run(cmd, env=env, cwd=ROOT, check=False).returncode != 0:
        raise RehearsalFailed(f"deploy.py {args[0]} failed (its one-line cause is above)")


def deploy(env: dict[str, str], tmp: Path, outputs: Path, name: str) -> dict[str, Any]:
    """The CD's stages, as cd_staging.yml runs them (the warehouse target is the twin's)."""
    summary = tmp / f"{name}-build.json"
    stage(env, "apply-outputs", "--outputs", str(outputs))
    stage(env, "raw-tables")
    stage(env, "build-warehouse", "--target", "postgres", "--summary", str(summary))
    stage(env, "docs-site", "--target", "postgres", "--outputs", str(outputs))
    stage(env, "bundle")
    return dict(json.loads(summary.read_text(encoding="utf-8")))


def children(manifest: Path, model: str) -> set[str]:
    """``model`` and every model downstream of it."""
    data = json.loads(manifest.read_text(encoding="utf-8"))
    start = next(
        uid for uid, node in data["nodes"].items() if uid.startswith("model.") and node["name"] == model
    )
    seen, todo = {start}, [start]
    while todo:
        for child in data["child_map"].get(todo.pop(), []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return {data["nodes"][uid]["name"] for uid in seen if uid.startswith("model.")}


def check(condition: bool, message: str) -> None:
    if not condition:
        raise RehearsalFailed(message)
    print(f"  ok: {message}", flush=True)


# ---- the rehearsal ---------------------------------------------------------------------------------------
def rehearse(tmp: Path, clock: Clock) -> None:
    from core.dbt_runner import PUBLISHED_MODEL, SELECT_PUBLISH
    from core.replay import ReplayServer
    from tests.dags.conftest import DAG_ID
    from tests.fakes.s3_server import FAKE_CREDENTIALS, running_s3_server
    from tests.integration.local_stack import LocalAirflow

    pg = pg_env()
    with (
        running_s3_server() as moto,
        ReplayServer(ROOT / "data" / "samples") as replay,
        rehearsal_database(pg),
    ):
        with clock.part("twin: moto_server (S3, Secrets Manager), PostgreSQL database, source tree"):
            os.environ.update(FAKE_CREDENTIALS)  # this process's own boto3 calls to the twin
            make_twin(moto.endpoint_url, pg)
            outputs = tmp / "tf-outputs.json"
            outputs.write_text(json.dumps(twin_outputs(pg), indent=2), encoding="utf-8")
            source = source_tree(tmp)
            env = {
                **project_env(tmp, moto.endpoint_url, replay.settings_overrides(), pg),
                "TRENDING_NOW_ROOT": str(source),
            }

        dags = tmp / "mwaa" / "dags"
        dags.mkdir(parents=True)
        airflow_env = {k: v for k, v in env.items() if k != "TRENDING_NOW_ROOT"}
        airflow_env["TRENDING_NOW_ROOT"] = str(dags)  # the project root on a worker is its DAG folder
        stack = LocalAirflow(
            home=tmp / "mwaa" / "airflow-home",
            target_path=dags / "dbt_project" / "target",
            base_env=airflow_env,
            dags_folder=dags,
        )
        # MWAA exists before the deploy (Terraform made it): its Airflow starts while the first deploy runs
        starting = Background(lambda: (stack.prepare(parse_dbt=False), stack.start()))
        try:
            with clock.part(
                "first deploy: apply-outputs, raw-tables, build-warehouse, bundle (Airflow starting)"
            ):
                first = deploy(env, tmp, outputs, "first")
                check(
                    first["state"] is None, "a first deploy builds the whole project (no deployed manifest)"
                )
                check(
                    PUBLISHED_MODEL not in first["nodes"]["model"],
                    "the deploy never builds the published model",
                )

            with clock.part("MWAA: DAG folder from the bucket, the DAG parsed"):
                synced = mwaa_sync(moto.endpoint_url, dags, set())
                print(f"  {len(synced)} file(s) from s3://{BUCKETS['mwaa']}/dags/", flush=True)
                starting.join()
                api = stack.wait_until_serving(DAG_ID)
                api.ensure_pool("llm_pool", 2, "LLM calls")

            smoke_env = {
                **env,
                "TRENDING_NOW_AIRFLOW_URL": stack.url,
                "TRENDING_NOW_AIRFLOW_USER": "integration",
                "TRENDING_NOW_AIRFLOW_PASSWORD": stack.password,
                "TRENDING_NOW_IT_LOGICAL_DATE": DAY,
                "TRENDING_NOW_IT_TIMEOUT_S": "1200",
                "TRENDING_NOW_IT_POLL_S": "3",
            }
            with clock.part("smoke: tests/integration against the twin (one DAG day)"):
                stage(smoke_env, "smoke", "--tests", "integration")
            published = warehouse_rows(pg, MART_TABLE)
            published_oid = relation_oid(pg, MART_TABLE)
            check(bool(published), f"the DAG run published {len(published)} rows")

            with clock.part(f"second deploy: {CHANGED_MODEL} changed"):
                model = next((source / "dbt_project" / "models").rglob(f"{CHANGED_MODEL}.sql"))
                model.write_text(
                    model.read_text(encoding="utf-8") + "\n-- changed by the rehearsal's second deploy\n"
                )
                second = deploy(env, tmp, outputs, "second")
                expected = children(source / "dbt_project" / "target" / "manifest.json", CHANGED_MODEL) - set(
                    SELECT_PUBLISH
                )
                check(second["state"] == "deployed", "the second deploy compares with the deployed manifest")
                check(
                    set(second["nodes"]["model"]) == expected,
                    f"only {CHANGED_MODEL} and its children were built: {', '.join(sorted(second['nodes']['model']))}",
                )
                check(
                    warehouse_rows(pg, MART_TABLE) == published,
                    "the published table is unchanged, row for row",
                )
                check(relation_oid(pg, MART_TABLE) == published_oid, "the published relation was not rebuilt")

            with clock.part("the next gated run: validate_mart and what follows it, cleared"):
                synced = mwaa_sync(moto.endpoint_url, dags, synced)
                run_id = api.dag_runs(DAG_ID, limit=1)[0]["dag_run_id"]
                api.request(
                    "POST",
                    f"/dags/{DAG_ID}/clearTaskInstances",
                    json={
                        "dry_run": False,
                        "dag_run_id": run_id,
                        "task_ids": ["validate_mart"],
                        "include_downstream": True,
                        "only_failed": False,
                        "reset_dag_runs": True,
                    },
                )
                run = api.wait_for_run(DAG_ID, run_id, 900, alive=stack.dead_component)
                check(run["state"] == "success", f"the gated run {run_id} succeeded")
                check(
                    relation_oid(pg, MART_TABLE) != published_oid,
                    "the gate's publish_mart republished the table",
                )
                check(
                    warehouse_rows(pg, MART_TABLE) == warehouse_rows(pg, AUDIT_TABLE),
                    "published = the audited mart",
                )
        finally:
            starting.join(raise_error=False)
            stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder (logs) and print where it is"
    )
    args = parser.parse_args(argv)
    clock = Clock()
    tmp = Path(tempfile.mkdtemp(prefix="tn-rehearse-"))
    try:
        rehearse(tmp, clock)
    except Exception as exc:  # the cause in one line; the stages printed their own
        print(f"rehearse: FAILED: {exc}", file=sys.stderr)
        print(clock.table())
        return 1
    finally:
        if args.keep:
            print(f"rehearse: work folder kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("rehearse: the deploy passed against the local twin\n" + clock.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
