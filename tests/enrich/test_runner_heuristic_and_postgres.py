from __future__ import annotations

from collections.abc import Callable

import pytest

from core.config import ConfigError, Secrets, Settings
from core.context import RunContext
from enrich.providers.factory import resolve_provider_name
from enrich.runner import EnrichmentFailed
from enrich.step import enrich_titles
from tests.enrich.conftest import enrichment_rows, input_row, seed_inputs
from tests.fakes.gemini_server import FakeGemini
from trending_now.compose import call_step


def test_auto_provider_follows_the_api_key(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    assert resolve_provider_name(settings) == "heuristic"
    settings.secrets = Secrets({"GEMINI_API_KEY": "k"})
    assert resolve_provider_name(settings) == "gemini"
    assert resolve_provider_name(settings.with_overrides({"enrich.provider": "heuristic"})) == "heuristic"
    with pytest.raises(ConfigError, match=r"enrich\.provider"):
        resolve_provider_name(settings.with_overrides({"enrich.provider": "openai"}))


def test_gemini_without_key_is_a_config_error(
    make_settings: Callable[..., Settings], make_context: Callable[..., RunContext]
) -> None:
    settings = make_settings({"enrich.provider": "gemini"})
    with pytest.raises(ConfigError, match="GEMINI_API_KEY"):
        call_step(enrich_titles, make_context(settings))


def test_missing_input_model_names_the_step_to_run(
    make_settings: Callable[..., Settings], make_context: Callable[..., RunContext]
) -> None:
    with pytest.raises(RuntimeError, match="titles_enrichment_input does not exist"):
        call_step(enrich_titles, make_context(make_settings()))


def test_heuristic_fills_the_table_then_gemini_re_enriches_only_its_own_key(
    make_settings: Callable[..., Settings], make_context: Callable[..., RunContext],
    gemini_settings: Callable[..., Settings], fake_gemini: FakeGemini,
) -> None:
    settings = make_settings()
    seed_inputs(settings, [input_row(i) for i in range(4)])
    result = call_step(enrich_titles, make_context(settings))
    assert (result.rows_in, result.rows_out, result.llm.calls, result.llm.cost_usd) == (4, 4, 0, 0.0)
    assert result.details["provider"] == "heuristic" and result.details["model"] == "heuristic-v1"
    rows = enrichment_rows(settings)
    assert {(r["provider"], r["model"], r["status"]) for r in rows} == {("heuristic", "heuristic-v1", "ok")}
    assert all(r["input_tokens"] == 0 for r in rows)
    assert call_step(enrich_titles, make_context(settings)).rows_in == 0  # heuristic results are cached too

    gemini = gemini_settings(enrich__provider="auto")  # key present -> gemini; heuristic rows do not count
    switched = call_step(enrich_titles, make_context(gemini))
    assert switched.details["provider"] == "gemini" and switched.rows_in == 4 and fake_gemini.call_count == 4
    assert len(enrichment_rows(settings)) == 8


@pytest.mark.postgres
def test_gemini_enrichment_on_postgres(
    pg_database: str, gemini_settings: Callable[..., Settings], make_context: Callable[..., RunContext],
    fake_gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from enrich import runner

    monkeypatch.setattr(runner, "_sleep", lambda s: None)
    settings = gemini_settings(warehouse__target="postgres", enrich__batch_size=2)
    seed_inputs(settings, [input_row(i) for i in range(5)])
    fake_gemini.fail_title("tm1004", "500", "500", "500", "500")
    with pytest.raises(EnrichmentFailed, match=r"coverage 4/5 \(80%\)") as failed:
        call_step(enrich_titles, make_context(settings))
    result = failed.value.result
    assert result.rows_out == 4 and result.details["failed"] == 1
    rows = {r["id"]: r for r in enrichment_rows(settings)}
    assert rows["tm1004"]["status"] == "failed" and rows["tm1001"]["score"] == 8.0
    calls = fake_gemini.call_count
    again = call_step(enrich_titles, make_context(settings))
    assert (again.rows_in, again.cache_hits, again.rows_out) == (1, 4, 1)
    assert fake_gemini.call_count == calls + 1
    assert {r["status"] for r in enrichment_rows(settings)} == {"ok"}
