"""The warehouse the pipeline writes to: DuckDB (embedded default), PostgreSQL or Redshift.

One object answers the three questions every step asks: which dlt destination to load into,
how to open a short-lived SQL connection to read or write a few rows, and which dbt target to run.
Connections are opened per use and closed at once: DuckDB allows one writing process per file,
and dbt opens its own connection between our steps.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import ConfigError, Settings
from core.countries import configured_countries

TARGETS = ("duckdb", "postgres", "redshift")  # warehouse.target's values (core.settings_schema)
RAW_JUSTWATCH = "raw_justwatch"
RAW_REVIEWS = "raw_reviews"
RAW_ENRICHMENT = "raw_enrichment"
OPS = "ops"
# dlt options set for every run (their one owner): credentials reach dlt as arguments, never through its
# vault providers. dlt's Airflow provider is on whenever Airflow is importable and looks every unset dlt option
# up as an Airflow Variable: an execution-API round trip each inside a task (5.9 s of one DAG run in
# bench/bench_dag.py) and an `airflow.models` import in the CLI (1.4 s).
DLT_ENV = {"PROVIDERS__ENABLE_AIRFLOW_SECRETS": "false"}
# The variables dbt_project/profiles.yml reads for a server target, by connection parameter (libpq names).
PROFILE_ENV = {
    "postgres": {
        "host": "PGHOST",
        "port": "PGPORT",
        "dbname": "PGDATABASE",
        "user": "PGUSER",
        "password": "PGPASSWORD",
    },
    "redshift": {
        "host": "REDSHIFT_HOST",
        "port": "REDSHIFT_PORT",
        "dbname": "REDSHIFT_DATABASE",
        "user": "REDSHIFT_USER",
        "password": "REDSHIFT_PASSWORD",
        "sslmode": "REDSHIFT_SSLMODE",
    },
}


def configure_dlt() -> None:
    """Put :data:`DLT_ENV` into the process environment before dlt reads its providers (a set value wins)."""
    for name, value in DLT_ENV.items():
        os.environ.setdefault(name, value)


def _first_set(*values: Any) -> Any:
    """The first value that is set (truthy), else the last one (``a or b or default``)."""
    return next((value for value in values[:-1] if value), values[-1])


class WarehouseError(RuntimeError):
    """The warehouse cannot be reached or a statement failed."""


@dataclass
class Warehouse:
    settings: Settings

    @property
    def target(self) -> str:
        return self.settings.typed.warehouse.target

    @property
    def duckdb_path(self) -> Path:
        return self.settings.path("warehouse.duckdb_path")

    @property
    def pipelines_dir(self) -> Path:
        return self.settings.path("warehouse.pipelines_dir")

    def identity(self) -> str:
        """Which warehouse this is: the DuckDB file's resolved path, or the server's host, port and database."""
        target = self.target
        if target == "duckdb":
            return f"duckdb:{self.duckdb_path.resolve()}"
        p = self.postgres_params() if target == "postgres" else self.redshift_params()
        return f"{target}://{p['host']}:{p['port']}/{p['dbname']}"

    @property
    def dlt_working_dir(self) -> Path:
        """dlt's working folder for this warehouse (``warehouse.pipelines_dir/<target>-<name>-<hash>``): two
        warehouses run from one checkout at once never share pipeline state."""
        identity = self.identity()
        name = self.duckdb_path.stem if self.target == "duckdb" else identity.rsplit("/", 1)[-1]
        digest = hashlib.sha1(identity.encode("utf-8"), usedforsecurity=False).hexdigest()[:10]
        return self.pipelines_dir / f"{self.target}-{name}-{digest}"

    def postgres_params(self) -> dict[str, Any]:
        """Config values, else libpq's PG* variables (process environment, then ``.env`` in dev)."""
        cfg = self.settings.section("warehouse").get("postgres") or {}
        env = self.settings.environ
        return {
            "host": _first_set(cfg.get("host"), env("PGHOST"), "127.0.0.1"),
            "port": int(_first_set(cfg.get("port"), env("PGPORT"), 5432)),
            "dbname": _first_set(cfg.get("database"), env("PGDATABASE"), "trending_now"),
            "user": _first_set(cfg.get("user"), env("PGUSER"), "trending_now"),
            "password": _first_set(os.environ.get("PGPASSWORD"), self.settings.secrets.get("PGPASSWORD"), ""),
        }

    def redshift_params(self) -> dict[str, Any]:
        cfg = self.settings.section("warehouse").get("redshift") or {}
        host = cfg.get("host")
        if not host:
            raise ConfigError(
                "warehouse.redshift.host is not set (Terraform output warehouse__redshift__host)"
            )
        password = self.settings.secrets.get("REDSHIFT_PASSWORD")
        if not password:
            raise ConfigError("REDSHIFT_PASSWORD is missing from the secrets")
        return {
            "host": host,
            "port": int(cfg.get("port") or 5439),
            "dbname": cfg.get("database") or "trending_now",
            "user": cfg.get("user") or "trending_now",
            "password": password,
            "sslmode": self.redshift_sslmode(),
        }

    def redshift_sslmode(self) -> str:
        """TLS always: ``verify-full`` when a CA bundle is configured (``warehouse.redshift.sslrootcert``)."""
        return "verify-full" if self.settings.get("warehouse.redshift.sslrootcert") else "require"

    # ---- dlt -------------------------------------------------------------------------------------
    def dlt_destination(self) -> Any:
        import dlt  # noqa: PLC0415 - dlt only when loading (keeps the CLI and DAG parse light)

        target = self.target
        if target == "duckdb":
            self.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            return dlt.destinations.duckdb(credentials=str(self.duckdb_path))
        if target == "postgres":
            return dlt.destinations.postgres(credentials=_dlt_credentials(self.postgres_params()))
        return dlt.destinations.redshift(
            credentials={**_dlt_credentials(self.redshift_params()), "query": self._redshift_ssl_query()},
            staging_iam_role=self.settings.get("warehouse.redshift.iam_role_arn"),
        )

    def _redshift_ssl_query(self) -> dict[str, str]:
        query = {"sslmode": self.redshift_sslmode()}
        if self.settings.get("warehouse.redshift.sslrootcert"):
            query["sslrootcert"] = str(self.settings.path("warehouse.redshift.sslrootcert"))
        return query

    def dlt_staging(self) -> Any:
        """Redshift loads through parquet files on S3 (COPY), never row-by-row inserts."""
        if self.target != "redshift":
            return None
        import dlt  # noqa: PLC0415 - dlt only when loading (keeps the CLI and DAG parse light)

        bucket = self.settings.require("warehouse.redshift.staging_bucket_url")
        return dlt.destinations.filesystem(bucket_url=bucket)

    def loader_file_format(self) -> str | None:
        return "parquet" if self.target in ("duckdb", "redshift") else None

    def dlt_pipeline(self, pipeline_name: str, dataset_name: str) -> Any:
        import dlt  # noqa: PLC0415 - dlt only when loading (keeps the CLI and DAG parse light)

        working_dir = self.dlt_working_dir
        working_dir.mkdir(parents=True, exist_ok=True)
        return dlt.pipeline(
            pipeline_name=f"{pipeline_name}_{self.target}",
            destination=self.dlt_destination(),
            staging=self.dlt_staging(),
            dataset_name=dataset_name,
            pipelines_dir=str(working_dir),
            progress="log" if os.environ.get("TRENDING_NOW_DLT_PROGRESS") else None,
        )

    def dlt_run(self, pipeline_name: str, dataset_name: str, data: Any, **kwargs: Any) -> Any:
        """Run a dlt pipeline with the target's loader format; returns the LoadInfo."""
        pipeline = self.dlt_pipeline(pipeline_name, dataset_name)
        fmt = self.loader_file_format()
        if fmt:
            kwargs.setdefault("loader_file_format", fmt)
        return pipeline.run(data, **kwargs)

    # ---- SQL -------------------------------------------------------------------------------------
    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[Any]:
        target = self.target
        try:
            if target == "duckdb":
                import duckdb  # noqa: PLC0415 - the driver of the configured target only

                path = self.duckdb_path
                if read_only and not path.exists():
                    raise WarehouseError(f"DuckDB file {path} does not exist yet: run the extract step first")
                path.parent.mkdir(parents=True, exist_ok=True)
                conn = duckdb.connect(str(path), read_only=read_only)
            elif target == "postgres":
                import psycopg2  # noqa: PLC0415 - the driver of the configured target only

                conn = psycopg2.connect(**self.postgres_params(), connect_timeout=10)
            else:
                import redshift_connector  # noqa: PLC0415 - the driver of the configured target only

                p = self.redshift_params()
                conn = redshift_connector.connect(
                    host=p["host"],
                    port=p["port"],
                    database=p["dbname"],
                    user=p["user"],
                    password=p["password"],
                    ssl=True,
                    # redshift_connector knows verify-ca/verify-full; "require" is its verify-ca with the
                    # bundled Amazon CA, stricter than libpq's require
                    sslmode="verify-full" if p["sslmode"] == "verify-full" else "verify-ca",
                )
        except WarehouseError:
            raise
        except Exception as exc:  # driver-specific errors: name the target and the cause in one line
            raise WarehouseError(f"cannot connect to the {target} warehouse: {exc}".strip()) from exc
        try:
            yield conn
            if target != "duckdb":
                conn.commit()
        finally:
            conn.close()

    def fetch_all(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        with self.connect() as conn:
            cur = conn.cursor()
            cur.execute(self._paramstyle(sql), params or [])
            columns = [d[0] for d in cur.description or []]
            return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        with self.connect() as conn:
            cur = conn.cursor()
            cur.execute(self._paramstyle(sql), params or [])

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        with self.connect() as conn:
            cur = conn.cursor()
            cur.executemany(self._paramstyle(sql), rows)

    def _paramstyle(self, sql: str) -> str:
        """Queries are written with ``?`` parameter markers; psycopg2/redshift_connector want ``%s``."""
        return sql if self.target == "duckdb" else sql.replace("?", "%s")

    def table_exists(self, schema: str, table: str) -> bool:
        rows = self.fetch_all(
            "select count(*) as n from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        )
        return bool(rows and rows[0]["n"])

    def dbt_env(self) -> dict[str, str]:
        """Environment variables the profiles in dbt_project/profiles.yml and the project's vars read."""
        env = {
            "TRENDING_NOW_DUCKDB_PATH": str(self.duckdb_path),
            # the dbt var max_reviews reads the setting's own override name: the resolved value wins
            "TRENDING_NOW__REVIEWS__MAX_REVIEWS": str(int(self.settings.get("reviews.max_reviews"))),
            # the dbt var countries: the run's countries, primary first (its services are the mart's platforms)
            "TRENDING_NOW__RUN__COUNTRIES": ",".join(configured_countries(self.settings)),
        }
        names = PROFILE_ENV.get(self.target, {})
        if names:
            params = self.postgres_params() if self.target == "postgres" else self.redshift_params()
            env.update({name: str(params[param]) for param, name in names.items()})
        return env


def _dlt_credentials(params: dict[str, Any]) -> dict[str, Any]:
    """Connection parameters (libpq names) as dlt's PostgreSQL/Redshift credentials name them."""
    return {
        "database": params["dbname"],
        "username": params["user"],
        "password": params["password"],
        "host": params["host"],
        "port": params["port"],
    }
