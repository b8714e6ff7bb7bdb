"""How a task turns an Airflow run into a RunContext: the as-of day, the shared run id, the params."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest


def test_run_id_keeps_airflow_ids_and_bounds_long_ones() -> None:
    from step_tasks import RUN_ID_MAX, run_id_for

    assert run_id_for("scheduled__2026-11-20T00:00:00+00:00") == "scheduled__2026-11-20T00:00:00+00:00"
    long_a, long_b = "manual__" + "x" * 200 + "a", "manual__" + "x" * 200 + "b"
    assert len(run_id_for(long_a)) == RUN_ID_MAX
    assert run_id_for(long_a) != run_id_for(long_b)
    assert run_id_for(long_a) == run_id_for(long_a)
    assert run_id_for("manual run/2026 11 20") == "manual_run_2026_11_20"


def test_as_of_is_the_logical_day_in_the_dag_timezone() -> None:
    from step_tasks import as_of_for

    midnight_utc = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    assert as_of_for(midnight_utc, None, "UTC") == date(2026, 11, 20)
    assert as_of_for(midnight_utc, None, "America/New_York") == date(2026, 11, 19)
    assert as_of_for(None, datetime(2026, 11, 21, 9, 30, tzinfo=UTC), "UTC") == date(2026, 11, 21)
    with pytest.raises(ValueError, match="neither a logical date"):
        as_of_for(None, None, "UTC")


def test_build_context_uses_config_then_params(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from step_tasks import build_context

    monkeypatch.setenv("TRENDING_NOW__RUN__DAYS", "5")
    monkeypatch.setenv("TRENDING_NOW__WAREHOUSE__DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("TMDB_API_KEY", "replay")
    airflow_context = {
        "run_id": "scheduled__2026-11-20T00:00:00+00:00",
        "logical_date": datetime(2026, 11, 20, tzinfo=UTC),
        "dag_run": SimpleNamespace(run_after=None, run_id="scheduled__2026-11-20T00:00:00+00:00"),
        "params": {"days": None, "country": "gb", "limit": 3},
    }
    ctx = build_context(airflow_context, "UTC")
    assert (ctx.as_of, ctx.days, ctx.country, ctx.limit) == (date(2026, 11, 20), 5, "GB", 3)
    assert ctx.run_id == "scheduled__2026-11-20T00:00:00+00:00"
    assert ctx.warehouse.duckdb_path == tmp_path / "w.duckdb"
    assert ctx.settings.secrets.get("TMDB_API_KEY") == "replay"


def test_parse_settings_never_reads_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from dag_settings import DagOptions, parse_settings

    # staging reads secrets from AWS Secrets Manager; parsing the DAG must not call it.
    monkeypatch.setenv("APP_ENV", "staging")
    settings = parse_settings()
    assert settings.env == "staging" and settings.secrets.names() == []
    options = DagOptions(settings)
    assert options.target == "redshift"
    assert options.max_active_tasks == 8
    monkeypatch.setenv("TRENDING_NOW__AIRFLOW__TIMEOUTS_MIN__ENRICH_TITLES", "5")
    assert DagOptions(parse_settings()).timeout("enrich_titles").total_seconds() == 300


def test_dbt_credentials_are_added_at_run_time_and_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from airflow.sdk._shared.secrets_masker.secrets_masker import redact
    from dbt_groups import STATIC_DBT_ENV, inject_warehouse_env

    monkeypatch.setenv("TRENDING_NOW__WAREHOUSE__TARGET", "postgres")
    monkeypatch.setenv("PGHOST", "db.internal")
    monkeypatch.setenv("PGPASSWORD", "pg-password-4711")
    operator = SimpleNamespace(env=dict(STATIC_DBT_ENV))
    inject_warehouse_env({}, operator)
    assert operator.env["PGPASSWORD"] == "pg-password-4711"
    assert operator.env["PGHOST"] == "db.internal"
    assert operator.env["DO_NOT_TRACK"] == "1"  # the rendered, non-secret values stay
    assert redact("connecting with pg-password-4711") == "connecting with ***"
    assert redact("host db.internal") == "host db.internal"
