"""core.dbt_runner.invoke: the command the CLI's dbt steps run, and what the DAG's producers reuse of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.context import RunContext
from core.dbt_relations import profile_name
from core.dbt_runner import invoke
from core.environ import environ


def test_a_cli_parse_serves_a_cosmos_producer_without_a_full_parse(
    make_context: Callable[..., RunContext],
) -> None:
    """The run's first dbt call (the CLI's or a Python task's) leaves the partial-parse cache; a Cosmos
    producer invokes dbt with ``--profile`` and ``--no-static-parser`` on the same project and environment
    and must start from that cache, not from a full parse (docs/airflow.md, bench/bench_dag.py)."""
    from dbt.cli.main import dbtRunner

    ctx = make_context()
    invoke(ctx, ["parse"])
    target = ctx.settings.path("dbt.target_path")
    assert (target / "partial_parse.msgpack").exists()

    project_dir = ctx.settings.path("dbt.project_dir")
    events: list[str] = []

    def collect(event: Any) -> None:
        events.append(event.info.name)

    env = {
        **ctx.warehouse.dbt_env(),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(ctx.settings.path("dbt.log_path")),
    }
    with environ(env):
        result = dbtRunner(callbacks=[collect]).invoke(
            [
                "parse",
                "--project-dir",
                str(project_dir),
                "--profiles-dir",
                str(ctx.settings.path("dbt.profiles_dir")),
                "--profile",
                profile_name(project_dir),
                "--target",
                ctx.warehouse.target,
                "--no-static-parser",
            ]
        )
    assert result.success
    assert "UnableToPartialParse" not in events, "the producer's flags invalidate the CLI's parse"
