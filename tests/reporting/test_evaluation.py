"""``trending-now eval``: the metrics (pure), the evaluation set and its gate (heuristic offline, the local
Gemini fake through the real google-genai SDK), and ``ops.enrichment_evals`` on DuckDB and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.config import PROJECT_ROOT, Secrets, Settings
from core.context import RunContext
from core.warehouse import Warehouse
from enrich import prompt
from enrich.inputs import ReviewInput, TitleInput
from enrich.step import enrich_titles
from reporting import evaluation
from reporting.evaluation import Enriched, ScoreBands, consensus_band, expect, score_enrichments, spearman
from tests.enrich.conftest import input_row, seed_inputs
from tests.fakes.gemini_server import FakeGemini
from trending_now.cli import build_parser, run_eval
from trending_now.compose import call_step

EVAL_SET = PROJECT_ROOT / "data" / "eval" / "eval_set.json"
BASELINE = PROJECT_ROOT / "data" / "eval" / "baseline.json"
LABELS = PROJECT_ROOT / "data" / "eval" / "labels.csv"
BANDS = ScoreBands(mixed_from=5.0, positive_from=7.0, margin=0.5)


def title(**kw: Any) -> TitleInput:
    values: dict[str, Any] = {
        "id": "tm1",
        "title": "Harbour Lights",
        "synopsis": "A harbour pilot guides ships through a storm while her brother hides a smuggling debt.",
        "source_genres": ["Drama", "crm"],
        "source_data_hash": "h",
        "reviews": [
            ReviewInput(source_name="guardian", review_text="A tense, salty drama with a superb lead.",
                        score_normalized=8.0),
            ReviewInput(source_name="tmdb", review_text="The storm sequence is gripping but the ending drags.",
                        score_normalized=6.0),
        ],
    }
    values.update(kw)
    return TitleInput(**values)


def enriched(**kw: Any) -> Enriched:
    values: dict[str, Any] = {
        "review_summary": "Critics call it a tense drama with a superb lead. The storm sequence is gripping.",
        "score": 7.0,
        "vibe_tags": ["suspenseful", "dark", "moody"],
        "primary_genre": "Drama",
        "secondary_genres": ["Crime"],
    }
    values.update(kw)
    return Enriched(**values)


# ---- pure metrics -------------------------------------------------------------------------------------
def test_spearman_matches_known_values_and_handles_ties() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # scipy.stats.spearmanr([1, 2, 2, 3], [1, 3, 2, 4]) = 0.9486832980505138
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(0.9486833, abs=1e-6)
    assert spearman([1, 2], [1, 2]) is None and spearman([5, 5, 5], [1, 2, 3]) is None


def test_metrics_reward_faithful_enrichment_and_catch_each_fault() -> None:
    good = score_enrichments([(title(), enriched())], min_overlap=0.6)
    assert good["primary_genre_in_source_rate"] == 1.0
    assert good["secondary_genres_in_vocabulary_rate"] == 1.0
    assert good["vibe_tags_in_vocabulary_rate"] == 0.6667  # "moody" is not in the vibe_tags seed
    assert (good["score_titles"], good["score_mae"]) == (1, 0.0)  # critics' mean is 7.0
    assert good["summary_grounding_rate"] == 1.0

    bad = score_enrichments(
        [(title(), enriched(
            primary_genre="Western", secondary_genres=["Drama", "Telenovela"], score=9.5,
            review_summary="Critics call it a tense drama. Audiences adore the dazzling Parisian ballet finale.",
        ))],
        min_overlap=0.6,
    )
    assert bad["primary_genre_in_source_rate"] == 0.0
    assert bad["secondary_genres_in_vocabulary_rate"] == 0.5
    assert bad["score_mae"] == 2.5
    assert bad["summary_grounding_rate"] == 0.5  # the invented second sentence


def test_score_needs_two_rated_reviews() -> None:
    one = title(reviews=[ReviewInput(source_name="tmdb", review_text="Fine.", score_normalized=9.0),
                         ReviewInput(source_name="guardian", review_text="Good.")])
    assert score_enrichments([(one, enriched())], min_overlap=0.6)["score_titles"] == 0


def test_expectations_from_labels_and_the_critics_consensus() -> None:
    exp = expect(title(), BANDS, ["Drama"])  # critics 8 and 6: a tie, the median 7.0 is positive
    assert (exp.score_band, exp.score_range, exp.primary_genre_in) == ("positive", (6.5, 10.0), ["Drama"])
    assert exp.check(enriched()) == (2, 2) and exp.check(enriched(score=5, primary_genre="Crime")) == (0, 2)
    silent = expect(title(reviews=[]), BANDS, ["Drama"])
    assert silent.score_range is None and silent.says_no_reviews
    assert silent.check(enriched(review_summary="There are no reviews yet. A pilot guides ships."))[0] == 2
    assert silent.check(enriched(review_summary="Critics love it. A pilot guides ships."))[0] == 1


def test_the_consensus_band_is_the_critics_majority_not_their_mean() -> None:
    def rated(*scores: float) -> TitleInput:
        return title(reviews=[ReviewInput(source_name="x", review_text="R.", score_normalized=s) for s in scores])

    assert consensus_band(rated(8, 8, 8, 2), BANDS) == "positive"  # the mean, 6.5, is mixed
    assert consensus_band(rated(4, 4, 9), BANDS) == "negative"  # the mean, 5.7, is mixed
    assert consensus_band(rated(3, 9), BANDS) == "mixed"  # a tie: the median, 6.0
    assert consensus_band(title(reviews=[ReviewInput(source_name="x", review_text="R.")]), BANDS) is None
    assert BANDS.bounds("negative") == (1.0, 5.5) and BANDS.bounds("mixed") == (4.5, 7.5)


def test_labels_name_genres_of_the_vocabulary(tmp_path: Path) -> None:
    labels = evaluation.read_labels(LABELS)
    assert len(labels) >= 40 and all(labels.values())
    bad = tmp_path / "labels.csv"
    bad.write_text("id,title,primary_genre_in\ntm1,X,Drama;Telenovela\n")
    with pytest.raises(ValueError, match="line 2"):
        evaluation.read_labels(bad)
    with pytest.raises(ValueError, match="no genre label for tm1"):
        evaluation.build_set([title()], {}, BANDS)


def test_gate_flags_only_regressions_beyond_tolerance() -> None:
    tol = dict.fromkeys(evaluation.METRICS, 0.05)
    base = {"score_mae": 0.5, "summary_grounding_rate": 0.9, "failure_rate": 0.0}
    now = {"score_mae": 0.54, "summary_grounding_rate": 0.8, "failure_rate": None}
    verdict = {c.metric: c.regressed for c in evaluation.compare(now, base, tol)}
    assert verdict["score_mae"] is False  # worse, within tolerance
    assert verdict["summary_grounding_rate"] is True  # 0.1 lower
    assert verdict["failure_rate"] is True  # a metric the baseline had is missing
    assert verdict["score_spearman"] is False  # the baseline has none: nothing to regress from
    improved = evaluation.compare({"score_mae": 0.1, "summary_grounding_rate": 1.0, "failure_rate": 0.0}, base, tol)
    assert not any(c.regressed for c in improved)


# ---- the evaluation set -------------------------------------------------------------------------------
def test_committed_eval_set_expectations_are_derived_from_its_inputs_and_labels(
    make_settings: Callable[..., Settings],
) -> None:
    data = json.loads(EVAL_SET.read_text())
    bands = ScoreBands.from_settings(make_settings())
    assert data["score_bands"] == {"mixed_from": bands.mixed_from, "positive_from": bands.positive_from,
                                   "margin": bands.margin} and len(data["titles"]) >= 40
    titles, expectations = evaluation.load_set(EVAL_SET)
    assert evaluation.build_set(titles, evaluation.read_labels(LABELS), bands) == data
    assert sum(e.says_no_reviews for e in expectations.values()) >= 3  # the set covers unreviewed titles
    assert {t.content_type for t in titles} == {"Movie", "TV Show"}
    # the labels are not the heuristic's rule (the first source genre): it misses some of them
    firsts = sum(evaluation.mapped_source_genres(t)[0] in expectations[t.id].primary_genre_in for t in titles)
    assert firsts < len(titles)


def eval_args(*argv: str) -> Any:
    return build_parser().parse_args(["eval", *argv])


def test_heuristic_passes_the_gate_against_the_committed_baseline(
    make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings({"enrich.provider": "heuristic"})
    assert run_eval(eval_args("--set", "--check"), settings) == 0
    out = capsys.readouterr().out
    assert "heuristic/heuristic-v1 prompt v2 · 45 titles" in out and "REGRESSION" not in out
    # the committed baseline is exactly what the heuristic scores today (no drift hidden by tolerances)
    committed = json.loads(BASELINE.read_text())["heuristic"]
    stored = Warehouse(settings).fetch_all("select * from ops.enrichment_evals")
    assert len(stored) == 1 and stored[0]["gate"] == "pass" and stored[0]["dataset"] == "eval_set"
    for metric, value in committed["metrics"].items():
        assert stored[0][metric] == pytest.approx(value), metric


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


def gemini(make_settings: Callable[..., Settings], fake: FakeGemini, baseline: Path) -> Settings:
    settings = make_settings({
        "enrich.provider": "auto", "enrich.base_url": fake.base_url, "enrich.concurrency": 2,
        "enrich.requests_per_minute": 0, "enrich.max_retries": 2, "enrich.backoff_base_s": 0.01,
        "enrich.max_backoff_s": 0.02, "eval.baseline_path": str(baseline),
    })
    settings.secrets = Secrets({"GEMINI_API_KEY": "test-key-not-real"}, source="test")
    return settings


def test_a_prompt_change_that_degrades_gemini_fails_the_gate(
    make_settings: Callable[..., Settings], fake_gemini: FakeGemini, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    baseline = tmp_path / "baseline.json"
    settings = gemini(make_settings, fake_gemini, baseline)

    # no baseline yet for gemini: --check refuses, --accept records one
    assert run_eval(eval_args("--set", "--check"), settings) == 1
    assert "no accepted baseline for provider gemini" in capsys.readouterr().err
    assert fake_gemini.call_count == 0  # refused before any paid call
    assert run_eval(eval_args("--set", "--accept", "--json"), settings) == 0
    accepted = json.loads(capsys.readouterr().out)[0]
    assert (accepted["provider"], accepted["model"], accepted["prompt_version"]) == (
        "gemini", "gemini-3.5-flash-lite", "v2")
    metrics = accepted["metrics"]
    assert metrics["titles"] == 45 and metrics["calls"] == 45 == fake_gemini.call_count
    assert metrics["cost_per_title_usd"] > 0 and metrics["failures"] == 0
    assert metrics["expected_met_rate"] < 1  # the fake picks genres by hash: some fall outside the sources
    assert json.loads(baseline.read_text())["gemini"]["metrics"]["titles"] == 45

    # the same prompt again passes
    assert run_eval(eval_args("--set", "--check"), settings) == 0
    capsys.readouterr()

    # prompt v2 makes the model answer with invalid JSON for a few titles: retried once, then failed
    monkeypatch.setattr(prompt, "PROMPT_VERSION", "v3-test")
    titles, _ = evaluation.load_set(EVAL_SET)
    for t in titles[:4]:
        fake_gemini.fail_title(t.id, "malformed", "malformed")
    assert run_eval(eval_args("--set", "--check"), settings) == 1
    captured = capsys.readouterr()
    assert "regressed against the baseline (gemini-3.5-flash-lite prompt v2)" in captured.err
    assert "failure_rate" in captured.err and "validation_retries_per_title" in captured.err
    assert "REGRESSION" in captured.out
    rows = Warehouse(settings).fetch_all(
        "select prompt_version, gate, failures, validation_retries from ops.enrichment_evals order by evaluated_at")
    assert [(r["prompt_version"], r["gate"]) for r in rows] == [
        ("v2", None), ("v2", "pass"), ("v3-test", "fail")]
    assert (rows[-1]["failures"], rows[-1]["validation_retries"]) == (4, 8)


def test_a_revoked_key_costs_one_call_and_fails_eval_set_even_without_check(
    make_settings: Callable[..., Settings], fake_gemini: FakeGemini, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    baseline = tmp_path / "baseline.json"
    settings = gemini(make_settings, fake_gemini, baseline)
    fake_gemini.revoked_keys.add("test-key-not-real")
    assert run_eval(eval_args("--set"), settings) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: eval: Gemini rejected the API key (API_KEY_INVALID)") and "\n" not in err
    assert fake_gemini.call_count == 1  # the first call goes alone, as the pipeline's does
    assert run_eval(eval_args("--set", "--accept"), settings) == 1  # nothing to accept
    assert fake_gemini.call_count == 2 and not baseline.exists()


def test_the_deploy_gate_runs_gemini_only_when_the_prompt_or_model_changes(
    make_settings: Callable[..., Settings], fake_gemini: FakeGemini, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    baseline = tmp_path / "baseline.json"
    settings = gemini(make_settings, fake_gemini, baseline)
    first = evaluation.check_before_deploy(Warehouse(settings), settings)  # no Gemini baseline: a change, and nothing to gate against
    assert (first.passed, first.ran) == (False, True) and "no accepted Gemini baseline" in first.lines[-1]
    assert first.evaluation is not None
    evaluation.accept(baseline, first.evaluation)
    calls = fake_gemini.call_count
    same = evaluation.check_before_deploy(Warehouse(settings), settings)
    assert (same.passed, same.ran, fake_gemini.call_count) == (True, False, calls)  # nothing changed: no call
    assert run_eval(eval_args("--before-deploy"), settings) == 0 and fake_gemini.call_count == calls  # the CLI
    monkeypatch.setattr(prompt, "PROMPT_VERSION", "v3-test")
    changed = evaluation.check_before_deploy(Warehouse(settings), settings)
    assert (changed.passed, changed.ran) == (True, True) and "prompt v2 -> v3-test" in changed.lines[0]
    fake_gemini.revoked_keys.add("test-key-not-real")
    calls = fake_gemini.call_count
    revoked = evaluation.check_before_deploy(Warehouse(settings), settings)
    assert not revoked.passed and fake_gemini.call_count == calls + 1
    assert "Gemini rejected the API key" in revoked.lines[-1]
    heuristic_settings = make_settings({"enrich.provider": "heuristic"})
    heuristic = evaluation.check_before_deploy(Warehouse(heuristic_settings), heuristic_settings, always=True)
    assert not heuristic.passed and "GEMINI_API_KEY" in heuristic.lines[-1]


# ---- what the warehouse holds -------------------------------------------------------------------------
def _warehouse_eval(settings: Settings, make_context: Callable[..., RunContext]) -> list[dict[str, Any]]:
    seed_inputs(settings, [input_row(i) for i in range(6)])
    call_step(enrich_titles, make_context(settings))
    found = evaluation.evaluate_warehouse(Warehouse(settings), settings)
    evaluation.store(Warehouse(settings), found)
    evaluation.store(Warehouse(settings), found[:1])  # a second evaluation appends
    return evaluation.history(Warehouse(settings))


def test_warehouse_evaluation_is_stored_per_label(
    make_settings: Callable[..., Settings], make_context: Callable[..., RunContext]
) -> None:
    rows = _warehouse_eval(make_settings(), make_context)
    assert len(rows) == 2 and {r["eval_id"] for r in rows} == {rows[0]["eval_id"]}
    row = rows[0]
    assert (row["dataset"], row["provider"], row["model"], row["prompt_version"]) == (
        "warehouse", "heuristic", "heuristic-v1", "v2")
    assert row["titles"] == 6 and row["primary_genre_in_source_rate"] == 1.0
    assert row["score_titles"] == 5 and row["summary_grounding_rate"] == 1.0
    assert row["expected_met_rate"] is None and row["gate"] is None


@pytest.mark.postgres
def test_warehouse_evaluation_on_postgres(
    make_settings: Callable[..., Settings], make_context: Callable[..., RunContext], pg_database: str
) -> None:
    rows = _warehouse_eval(make_settings({"warehouse.target": "postgres"}), make_context)
    assert len(rows) == 2 and rows[0]["titles"] == 6 and rows[0]["target"] == "postgres"
    assert rows[0]["vibe_tags_in_vocabulary_rate"] is not None
