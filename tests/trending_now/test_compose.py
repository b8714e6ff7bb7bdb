"""``trending_now.compose``: one builder of the run's context and resources, one clock, resources by name."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from core.config import Settings
from core.context import RunContext, StepResult
from enrich.providers.heuristic import HeuristicProvider
from extract.justwatch.client import JustWatchApi
from trending_now import compose
from trending_now.compose import Resources, call_step, run_context, run_day


def test_one_clock_the_day_in_the_dag_timezone(make_settings: Callable[..., Settings]) -> None:
    late_evening_utc = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    assert run_day(make_settings({"airflow.timezone": "UTC"}), late_evening_utc) == date(2026, 11, 20)
    assert run_day(make_settings({"airflow.timezone": "Asia/Tokyo"}), late_evening_utc) == date(2026, 11, 21)
    tokyo = make_settings({"airflow.timezone": "Asia/Tokyo"})
    assert run_context(tokyo, moment=late_evening_utc).as_of == date(2026, 11, 21)  # the CLI's today, too


def test_the_context_holds_one_warehouse_with_the_run_s_countries(make_settings: Callable[..., Settings]) -> None:
    ctx = run_context(make_settings(), as_of=date(2026, 11, 20), countries="gb,us", run_id="r1")
    assert ctx.warehouse is ctx.warehouse
    assert (ctx.run_id, ctx.days, ctx.country_codes) == ("r1", 7, ("GB", "US"))
    assert ctx.warehouse.settings.require("run.countries") == ["GB", "US"]  # dbt's countries var reads these


def test_resources_are_built_once_on_first_use_and_closed_with_the_run(
    make_settings: Callable[..., Settings], make_context: Callable[..., RunContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[str] = []
    monkeypatch.setattr(HeuristicProvider, "close", lambda self: closed.append(self.name))
    ctx = make_context()
    with Resources(ctx) as resources:
        assert "provider" not in vars(resources)  # nothing is built before a step asks for it
        provider = resources.provider
        assert closed == [] and resources.provider is provider and resources.warehouse is ctx.warehouse
        assert isinstance(resources.justwatch, JustWatchApi)
        assert resources.gemini_batch is None  # sync: no batch client (batch mode: tests/enrich/test_batch.py)
    assert closed == ["heuristic"]
    batch_without_gemini = make_settings({"enrich.mode": "batch", "enrich.provider": "heuristic"})
    with Resources(make_context(batch_without_gemini)) as resources:
        assert resources.gemini_batch is None  # the heuristic provider has no batches


def test_a_step_receives_the_resources_its_parameters_name(make_context: Callable[..., RunContext]) -> None:
    seen: dict[str, object] = {}

    def step(ctx: RunContext, justwatch: JustWatchApi) -> StepResult:
        seen["justwatch"] = justwatch
        return StepResult(step="probe")

    ctx = make_context()
    with Resources(ctx) as resources:
        call_step(step, ctx, resources)
        assert seen["justwatch"] is resources.justwatch
    given = JustWatchApi(resources.justwatch.settings)
    call_step(step, ctx, justwatch=given)
    assert seen["justwatch"] is given

    def own_default(ctx: RunContext, select: tuple[str, ...] = ("source:justwatch",)) -> StepResult:
        return StepResult(step="own", details={"select": select})

    assert call_step(own_default, ctx).details == {"select": ("source:justwatch",)}  # the step's own, kept

    def greedy(ctx: RunContext, database: object) -> StepResult:
        return StepResult(step="greedy")

    with pytest.raises(TypeError, match=f"greedy asks for database; resources are {', '.join(compose.RESOURCE_NAMES)}"):
        call_step(greedy, ctx)
