"""Shared fixtures: settings bound to a temporary DuckDB file, and a throw-away PostgreSQL database."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from core.config import PROJECT_ROOT, Settings, load_settings
from core.context import RunContext

DEMO_AS_OF = date(2026, 11, 20)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read a developer's .env secrets or TRENDING_NOW__ overrides by accident."""
    for name in list(os.environ):
        if name.startswith("TRENDING_NOW__") or name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "APP_ENV"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    monkeypatch.setenv("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")


@pytest.fixture(autouse=True)
def _log_handlers_on_open_streams() -> None:
    """Libraries bind console log handlers to ``sys.stdout``/``sys.stderr`` when they are first imported or
    configured (dvc at import, Airflow's logging config): set up while a test's stream was redirected, they
    keep writing to that stream once it is closed, in the later tests of the worker (dvc raises
    ``LoggingException``; the logging module prints ``--- Logging error ---`` into the next test's stderr).
    Each test points such handlers at the current stderr."""
    loggers = [logging.root, *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            console = isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)
            if console and getattr(handler.stream, "closed", False):
                handler.stream = sys.stderr  # assigned, not setStream(): that flushes the closed stream


def shared_across_workers(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """A folder ``build(folder)`` fills once per pytest session, whichever xdist worker asks first; the others
    wait for it (an exclusive ``flock``) and read it. For what costs a whole pipeline day or several dbt
    commands and is the same on every worker (each worker's session fixtures would otherwise build it again).
    A failed build leaves no folder marked done: the next worker builds it anew (and meets the same failure)."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the session's, above the workers'
    folder, done = root / f"shared-{name}", root / f"shared-{name}.done"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                build(folder)
                done.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder


def replay_project_settings(tmp: Path, server: Any, target: str) -> Settings:
    """Settings rooted in a throw-away project under ``tmp`` (config, DVC project, the dbt project linked),
    heuristic enrichment, dbt and DVC scratch under ``tmp``, pointed at the replay ``server`` and ``target``."""
    from trending_now.cli import replay_settings

    root = tmp / "project"
    root.mkdir()
    shutil.copytree(PROJECT_ROOT / "config", root / "config")
    shutil.copytree(PROJECT_ROOT / ".dvc", root / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache"))
    (root / "dbt_project").symlink_to(PROJECT_ROOT / "dbt_project")
    base = load_settings("dev", root=root, environ={}).with_overrides(
        {
            "dbt.target_path": str(tmp / "dbt-target"),
            "dbt.log_path": str(tmp / "dbt-logs"),
            "dvc.site_cache_dir": str(tmp / "dvc-site-cache"),
            "enrich.provider": "heuristic",
        }
    )
    return replay_settings(base, server.settings_overrides(), target)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """``make_settings(**{"enrich.provider": "heuristic"})``: dev settings on a temporary DuckDB file."""

    def factory(overrides: dict[str, Any] | None = None, **kw: Any) -> Settings:
        base = load_settings("dev", root=PROJECT_ROOT, environ={})
        values: dict[str, Any] = {
            "warehouse.duckdb_path": str(tmp_path / "warehouse" / "test.duckdb"),
            "warehouse.pipelines_dir": str(tmp_path / "warehouse" / ".dlt"),
            "reviews.cache_dir": str(tmp_path / "http-cache"),
            "export.dir": str(tmp_path / "exports"),
            "dvc.local_remote_path": str(tmp_path / "dvc-remote"),
            "quality.report_dir": str(tmp_path / "reports"),
            "dbt.target_path": str(tmp_path / "dbt-target"),
            "dbt.log_path": str(tmp_path / "dbt-logs"),
        }
        values.update(overrides or {})
        values.update({k.replace("__", "."): v for k, v in kw.items()})
        return base.with_overrides(values)

    return factory


@pytest.fixture
def make_context(make_settings: Callable[..., Settings]) -> Callable[..., RunContext]:
    def factory(settings: Settings | None = None, **kw: Any) -> RunContext:
        kw.setdefault("as_of", DEMO_AS_OF)
        kw.setdefault("quiet", True)
        return RunContext(settings=settings or make_settings(), **kw)

    return factory


def _pg_admin_connect(dbname: str = "postgres") -> Any:
    import psycopg2

    return psycopg2.connect(
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=int(os.environ.get("PGPORT", "5432")),
        user=os.environ.get("PGUSER", "trending_now"),
        password=os.environ.get("PGPASSWORD", "trending_now"),
        dbname=dbname,
        connect_timeout=5,
    )


@pytest.fixture
def pg_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards; PG* variables point at it.

    Skipped when no server answers, except under CI (``CI=true``), where .ci/run starts one and a
    missing server is a failure.
    """
    try:
        admin = _pg_admin_connect()
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable under CI: {exc}")
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    name = f"tn_test_{uuid.uuid4().hex[:10]}"
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'create database "{name}"')
    for var, default in (("PGHOST", "127.0.0.1"), ("PGPORT", "5432"), ("PGUSER", "trending_now"),
                         ("PGPASSWORD", "trending_now")):
        monkeypatch.setenv(var, os.environ.get(var, default))
    monkeypatch.setenv("PGDATABASE", name)
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
        admin.close()


# ---- No silent skips under CI ---------------------------------------------------------------------------
# Under CI (CI=true) a skipped test fails the run unless its node id starts with an entry of
# tests/skip_allowlist.txt ("<node id prefix>  # <reason>"): a green CI must not hide a test that never ran.
# A module skipped at collection time counts too (tests/test_ci_skip_gate.py holds both).
SKIP_ALLOWLIST = Path(__file__).with_name("skip_allowlist.txt")


def _allowed_skips() -> dict[str, str]:
    allowed: dict[str, str] = {}
    for line in SKIP_ALLOWLIST.read_text().splitlines():
        prefix, _, reason = line.partition("#")
        if prefix.strip():
            if not reason.strip():
                raise pytest.UsageError(f"{SKIP_ALLOWLIST.name}: {prefix.strip()} needs a reason after '#'")
            allowed[prefix.strip()] = reason.strip()
    return allowed


def _note_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail") and os.environ.get("CI"):
        allowed = _allowed_skips()
        if not any(report.nodeid.startswith(prefix) for prefix in allowed):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            _UNEXPECTED_SKIPS.append(f"{report.nodeid}: {reason}")


# The longest modules, longest first (their setup and calls in CI's --durations, .ci/run): they start first.
LONGEST_MODULES = (
    "tests/dags/test_dag_end_to_end.py",
    "tests/publish/test_publish_mart.py",
    "tests/trending_now/test_pipeline_e2e.py",
    "tests/reliability/test_enrichment_faults.py",
    "tests/infrastructure/test_deploy.py",
    "tests/reliability/test_disk_full.py",
    "tests/dbt/test_slim_ci.py",
    "tests/extract/justwatch/test_malformed_day.py",
    "tests/dbt/test_reviews_cap.py",
    "tests/dbt/test_dbt_build_duckdb.py",
    "tests/extract/reviews/test_pipeline.py",
)


def _start_order(item: pytest.Item) -> tuple[int, bool]:
    module = item.nodeid.split("::", 1)[0]
    rank = LONGEST_MODULES.index(module) if module in LONGEST_MODULES else len(LONGEST_MODULES)
    return rank, item.get_closest_marker("slow") is None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest modules first, then the other slow ones (end to end: dbt, Airflow, whole days), each
    module's tests kept together: pytest-xdist's ``--dist loadscope`` hands out modules in this order, so the
    long ones start at once and the short ones fill the workers at the end instead of one long module running
    alone last."""
    items.sort(key=_start_order)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _note_skip(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A skip raised while collecting (``pytest.importorskip``, ``pytest.skip(allow_module_level=True)``) drops a
    whole module before any test report exists; under xdist the controller gets these reports too."""
    _note_skip(report)


_UNEXPECTED_SKIPS: list[str] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput") or not _UNEXPECTED_SKIPS:
        return  # xdist workers report to the controller, which decides
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"CI=true and {len(_UNEXPECTED_SKIPS)} test(s) skipped without an entry in {SKIP_ALLOWLIST.name}:"]
    lines += [f"  {item}" for item in _UNEXPECTED_SKIPS]
    if reporter is not None:
        for line in lines:
            reporter.write_line(line, red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
