"""Benchmark: the original plan's four LLM calls per title vs one structured call (and batches), and the
Batch API (``enrich.mode: batch``, inline and as a JSONL file) vs the sync calls: cost per 1,000 titles and
wall time on the fake.

Runs everything in one process against the local Gemini fake (tests/fakes/gemini_server.py) with a
realistic latency model (fixed latency + time per input and output token), through the real google-genai
SDK, and prints a Markdown table of ratios against the four-call baseline measured in the same run
(also written to bench/results/enrich.md).

    .venv/bin/python bench/bench_enrich.py [--titles 200] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from google import genai
from google.genai import types
from pydantic import BaseModel, Field

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import write_result  # noqa: E402

from core.config import PROJECT_ROOT, Secrets, Settings, load_settings  # noqa: E402
from core.context import RunContext  # noqa: E402
from core.vocabulary import PRIMARY_GENRES  # noqa: E402
from enrich.inputs import TitleInput, parse_input_row  # noqa: E402
from enrich.step import enrich_titles  # noqa: E402
from enrich.vocabulary import Genre  # noqa: E402
from tests.enrich.conftest import input_row, seed_inputs  # noqa: E402
from tests.fakes.gemini_server import FakeGemini  # noqa: E402
from trending_now.compose import call_step  # noqa: E402

MODEL = "gemini-3.5-flash-lite"
PRICE_IN, PRICE_OUT = 0.30, 2.50


@dataclass
class Measure:
    label: str
    titles: int
    calls: int
    prompt_tokens: int
    output_tokens: int
    wall_s: float
    ok: int
    price_factor: float = 1.0  # the Batch API bills at enrich.batch.price_factor x the interactive prices

    @property
    def cost(self) -> float:
        return (self.prompt_tokens * PRICE_IN + self.output_tokens * PRICE_OUT) / 1e6 * self.price_factor


# ---- (a) the original plan: four sequential calls per title --------------------------------------------
class Summary(BaseModel):
    review_summary: str


class ScoreAnswer(BaseModel):
    score: float = Field(ge=1, le=10)


class TagsAnswer(BaseModel):
    vibe_tags: list[str] = Field(min_length=3, max_length=6)


class GenreAnswer(BaseModel):
    primary_genre: Genre
    secondary_genres: list[Genre] = Field(max_length=3)


def _ask(client: genai.Client, prompt: str, schema: type[BaseModel]) -> BaseModel:
    response = client.models.generate_content(
        model=MODEL, contents=prompt,
        config=types.GenerateContentConfig(response_mime_type="application/json", response_schema=schema,
                                           thinking_config=types.ThinkingConfig(thinking_level="MINIMAL")),
    )
    return schema.model_validate_json(response.text or "")


def four_calls(client: genai.Client, title: TitleInput) -> None:
    """Plan step 3: summary -> score (from synopsis + summary) -> vibe tags -> genres, one call each."""
    reviews = "\n".join(f"- {r.source_name}: {r.review_text} (score: {r.original_score})" for r in title.reviews)
    head = f'Title: <title id="{title.id}"><name>{title.title}</name></title> ({title.content_type}, {title.release_year})'
    summary = _ask(client, f"{head}\nSummarise these reviews in 2-4 sentences:\n{reviews or 'no reviews'}",
                   Summary).review_summary  # type: ignore[attr-defined]
    context = f"{head}\nSynopsis: {title.synopsis}\nReview summary: {summary}"
    _ask(client, f"{context}\nGive a vibe score from 1 to 10.", ScoreAnswer)
    _ask(client, f"{context}\nGenerate 3-6 short lowercase vibe tags.", TagsAnswer)
    _ask(client, f"{context}\nSource genres: {', '.join(title.source_genres)}\n"
                 f"Classify the primary and secondary genres from: {', '.join(PRIMARY_GENRES)}.", GenreAnswer)


def run_baseline(fake: FakeGemini, titles: list[TitleInput], concurrency: int) -> Measure:
    fake.reset()
    client = genai.Client(api_key="bench-key", http_options=types.HttpOptions(
        base_url=fake.base_url, api_version="v1beta", timeout=60_000))
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda t: four_calls(client, t), titles))
    wall = time.perf_counter() - started
    client.close()
    return Measure("(a) plan: 4 calls per title", len(titles), fake.call_count, fake.prompt_tokens,
                   fake.output_tokens, wall, len(titles))


# ---- (b)-(d) the enrich step ---------------------------------------------------------------------------
def step_settings(
    fake: FakeGemini, workdir: Path, batch_size: int, concurrency: int, **overrides: object
) -> Settings:
    settings = load_settings("dev", root=PROJECT_ROOT, environ={}).with_overrides({
        **overrides,
        "warehouse.duckdb_path": str(workdir / "bench.duckdb"),
        "warehouse.pipelines_dir": str(workdir / ".dlt"),
        "enrich.provider": "gemini", "enrich.base_url": fake.base_url, "enrich.model": MODEL,
        "enrich.batch_size": batch_size, "enrich.concurrency": concurrency,
        "enrich.requests_per_minute": 0, "enrich.max_cost_usd": 100.0,
        "enrich.max_output_tokens": 8192, "enrich.flush_every": 50,
        "enrich.price_input_per_mtok": PRICE_IN, "enrich.price_output_per_mtok": PRICE_OUT,
    })
    settings.secrets = Secrets({"GEMINI_API_KEY": "bench-key"}, source="bench")
    return settings


def run_step(fake: FakeGemini, settings: Settings, label: str, n: int) -> Measure:
    fake.reset()
    started = time.perf_counter()
    result = call_step(enrich_titles, RunContext(settings=settings, as_of=date(2026, 11, 20), quiet=True))
    wall = time.perf_counter() - started
    factor = float(settings.require("enrich.batch.price_factor")) if settings.get("enrich.mode") == "batch" else 1.0
    measure = Measure(label, n, fake.call_count, fake.prompt_tokens, fake.output_tokens, wall, result.rows_out,
                      factor)
    if abs(measure.cost - result.cost_usd) > 1e-4 + 0.001 * measure.cost:  # the ledger must agree with the fake
        raise SystemExit(f"{label}: the step recorded ${result.cost_usd:.6f}, the fake's tokens cost ${measure.cost:.6f}")
    return measure


def run_batch_mode(fake: FakeGemini, workdir: Path, rows: list[dict], concurrency: int, label: str,
                   **overrides: object) -> Measure:
    """``enrich.mode: batch``: submit, poll (the fake moves the batch on at each poll; no sleep), harvest."""
    settings = step_settings(fake, workdir, 1, concurrency, **{
        "enrich.mode": "batch", "enrich.batch.poll_interval_s": 0, **overrides})
    seed_inputs(settings, rows)
    measure = run_step(fake, settings, label, len(rows))
    if len(fake.batch.created) != 1:
        raise SystemExit(f"{label}: {len(fake.batch.created)} batches submitted; expected 1")
    return measure


def table(rows: list[Measure], base: Measure) -> str:
    def ratio(value: float, reference: float) -> str:
        return f"{value / reference:.2f}×" if reference else "–"

    lines = [
        "| scenario | calls/title | input tok/title | output tok/title | cost/1k titles | wall s | "
        "calls vs (a) | input tok vs (a) | cost vs (a) | wall vs (a) | ok titles |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {m.label} | {m.calls / m.titles:.2f} | {m.prompt_tokens / m.titles:.0f} | "
        f"{m.output_tokens / m.titles:.0f} | ${m.cost / m.titles * 1000:.3f} | {m.wall_s:.1f} | "
        f"{ratio(m.calls, base.calls)} | {ratio(m.prompt_tokens, base.prompt_tokens)} | "
        f"{ratio(m.cost, base.cost)} | {ratio(m.wall_s, base.wall_s)} | {m.ok}/{m.titles} |"
        for m in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--ms-per-output-token", type=float, default=4.0)
    parser.add_argument("--ms-per-input-token", type=float, default=0.02)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "enrich.md")
    args = parser.parse_args(argv)

    rows = [input_row(i) for i in range(args.titles)]
    titles = [parse_input_row(r) for r in rows]
    results: list[Measure] = []
    with FakeGemini(latency_s=args.latency_ms / 1000, per_output_token_s=args.ms_per_output_token / 1000,
                    per_input_token_s=args.ms_per_input_token / 1000) as fake, \
            tempfile.TemporaryDirectory(prefix="bench-enrich-") as tmp:
        # warm-up outside the timings: imports and dlt's first pipeline run are one-time costs
        warm = step_settings(fake, Path(tmp) / "warmup", 1, args.concurrency)
        seed_inputs(warm, rows[:2])
        run_step(fake, warm, "warm-up", 2)
        base = run_baseline(fake, titles, args.concurrency)
        results.append(base)
        for batch_size, label in ((1, "(b) one structured call per title"), (5, "(c) batch_size 5"),
                                  (10, "(c) batch_size 10")):
            settings = step_settings(fake, Path(tmp) / f"b{batch_size}", batch_size, args.concurrency)
            seed_inputs(settings, rows)
            results.append(run_step(fake, settings, label, args.titles))
            if batch_size == 1:
                rerun = run_step(fake, settings, "(d) re-run, nothing changed", args.titles)
                if rerun.calls != 0:
                    raise SystemExit(f"re-run made {rerun.calls} calls; expected 0")
                rerun_row = rerun
        results.insert(2, rerun_row)
        sync = results[1]
        results.append(run_batch_mode(fake, Path(tmp) / "batch", rows, args.concurrency,
                                      "(e) Batch API, inline requests"))
        results.append(run_batch_mode(fake, Path(tmp) / "batch-file", rows, args.concurrency,
                                      "(f) Batch API, JSONL file", **{"enrich.batch.inline_max_bytes": 1}))

    header = (
        f"## Enrichment: calls, tokens and wall time for {args.titles} titles\n\n"
        f"Gemini fake on 127.0.0.1 via the google-genai SDK; latency {args.latency_ms:g} ms + "
        f"{args.ms_per_output_token:g} ms/output token + {args.ms_per_input_token:g} ms/input token; "
        f"concurrency {args.concurrency}; prices ${PRICE_IN}/${PRICE_OUT} per 1M in/out tokens. "
        "(b)-(d) include reading the input and writing results to DuckDB with dlt; (a) writes nothing. "
        "One-time import/dlt set-up is warmed up before timing. "
        "(e)/(f): `enrich.mode: batch` at `enrich.batch.price_factor` 0.5; their wall time is submit + polls + "
        "harvest on the fake, which ends a batch after two polls: Gemini's own turnaround (up to 24 h, usually "
        "much less) comes on top.\n"
    )
    batch_rows = [m for m in results if m.price_factor != 1.0]
    versus = "\n".join(
        f"- {m.label} vs (b) sync: cost/1k titles ${m.cost / m.titles * 1000:.3f} vs "
        f"${sync.cost / sync.titles * 1000:.3f} ({m.cost / sync.cost:.2f}×); wall on the fake {m.wall_s:.1f} s vs "
        f"{sync.wall_s:.1f} s ({m.wall_s / sync.wall_s:.2f}×)"
        for m in batch_rows
    )
    report = f"{header}\n{table(results, base)}\n\n{versus}\n"
    print(report)
    write_result("enrich", "Enrichment: calls, tokens and wall time", report, out=args.out)
    print(json.dumps({"written": str(args.out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
