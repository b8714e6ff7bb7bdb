"""``trending-now enrich --plan``: what a run would re-enrich and what it would cost, before any call."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.config import Settings
from core.context import RunContext
from core.warehouse import Warehouse
from enrich import plan, runner
from enrich.prompt import SYSTEM_INSTRUCTION
from enrich.step import enrich_titles
from tests.enrich.conftest import input_row, seed_inputs
from tests.fakes.gemini_server import FakeGemini
from trending_now.cli import main
from trending_now.compose import call_step

Ctx = Callable[..., RunContext]
MODEL = "gemini-3.5-flash-lite"


def test_a_prompt_version_change_is_planned_and_priced_before_any_call(
    gemini_settings: Callable[..., Settings], make_context: Ctx, fake_gemini: FakeGemini,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = gemini_settings()
    seed_inputs(settings, [input_row(i) for i in range(4)])
    first = plan.make_plan(Warehouse(settings), settings, "gemini", MODEL)
    assert (first.pending, first.new, first.calls) == (4, 4, 4) and first.input_tokens > 4 * len(SYSTEM_INSTRUCTION) // 4  # the instruction goes with every call
    call_step(enrich_titles, make_context(settings))
    paid = fake_gemini.call_count
    assert plan.make_plan(Warehouse(settings), settings, "gemini", MODEL).pending == 0

    for module in (plan, runner):
        monkeypatch.setattr(module, "PROMPT_VERSION", "v3-test")
    seed_inputs(settings, [input_row(i, **({"source_data_hash": "new"} if i == 0 else {})) for i in range(5)])
    bumped = plan.make_plan(Warehouse(settings), settings, "gemini", MODEL)
    assert (bumped.new, bumped.changed_sources, dict(bumped.re_enrich)) == (1, 1, {f"prompt v2, model {MODEL}": 3})
    assert fake_gemini.call_count == paid  # planning calls nothing
    most = check_plan_lines(bumped)

    ctx = make_context(settings)
    progress: list[str] = []  # the run says the same before its first call
    monkeypatch.setattr(ctx, "progress", progress.append)
    call_step(enrich_titles, ctx)
    check_the_run_said_it(progress, most)


def check_the_run_said_it(progress: list[str], most: float) -> None:
    assert any("3 re-enriched after a prompt or model change" in line for line in progress)
    assert any(f"at most ${most:.4f}" in line for line in progress)


def check_plan_lines(bumped: plan.EnrichPlan) -> float:
    """The plan's lines: what, why, the re-enriched group, the price; returns the most it may cost."""
    lines = bumped.lines()
    assert lines[0] == f"enrich plan: 5 of 5 titles to enrich with gemini/{MODEL} prompt v3-test"
    assert "1 new, 1 with changed sources, 3 re-enriched after a prompt or model change" in lines[1]
    assert f"re-enrich 3 enriched under prompt v2, model {MODEL}" in lines[2]
    # the fake's answers so far give the expected output size; max_output_tokens bounds it
    assert bumped.mean_output_tokens and bumped.prices
    expected = (bumped.input_tokens * 0.30 + bumped.mean_output_tokens * 5 * 2.50) / 1e6
    most = (bumped.input_tokens * 0.30 + 1024 * 5 * 2.50) / 1e6
    assert f"about ${expected:.4f}" in lines[3] and f"at most ${most:.4f}" in lines[3]
    return most


def test_enrich_plan_on_the_cli_prints_the_plan_and_calls_nothing(
    make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings({"enrich.provider": "heuristic"})
    seed_inputs(settings, [input_row(i) for i in range(3)])
    monkeypatch.setattr("trending_now.cli.load_settings", lambda *a, **k: settings)
    assert main(["enrich", "--plan", "-q"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "enrich plan: 3 of 3 titles to enrich with heuristic/heuristic-v1 prompt v2"
    assert out[-1].startswith("  cost $0 (heuristic provider); with Gemini at the configured prices at most $")
    assert float(out[-1].rsplit("$", 1)[1]) > 0
    assert not Warehouse(settings).table_exists("raw_enrichment", "title_enrichments")


def test_a_batch_run_is_planned_at_the_batch_price(gemini_settings: Callable[..., Settings]) -> None:
    """``enrich.mode: batch`` bills ``enrich.batch.price_factor`` of the interactive prices: the plan says so."""
    settings = gemini_settings()
    seed_inputs(settings, [input_row(i) for i in range(4)])
    sync = plan.make_plan(Warehouse(settings), settings, "gemini", MODEL)
    batch_settings = settings.with_overrides({"enrich.mode": "batch"})
    batch = plan.make_plan(Warehouse(batch_settings), batch_settings, "gemini", MODEL)
    factor = float(settings.require("enrich.batch.price_factor"))
    assert batch.cost(1024) == pytest.approx(sync.cost(1024) * factor)
    assert "(batch prices)" in batch.lines()[-1] and "(sync prices)" in sync.lines()[-1]
