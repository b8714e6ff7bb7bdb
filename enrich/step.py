"""The enrich step and enrich's public API: what the composition root and the reporting package call.

- :func:`enrich_titles`: the step (``enrich_titles``): every pending title of ``marts.titles_enrichment_input``,
  sync (:mod:`enrich.runner`) or, with ``enrich.mode: batch``, one Gemini batch per run (:mod:`enrich.batch`);
- :func:`enrich_without_storing`: the configured provider on given titles through the runner's own job logic
  (budget, rate limit, retries, the first call alone), nothing written: the evaluation set's run;
- the input contract a caller reads or builds (:class:`TitleInput`, :func:`parse_input_row`), the prompt's
  version (:func:`prompt_version`), how a summary splits into sentences and which provider runs.

Nothing outside ``enrich/`` imports another of its modules (import-linter holds ``reporting`` to this one).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.config import Settings
from core.context import RunContext, StepResult
from enrich import prompt
from enrich.inputs import ReviewInput, TitleInput, parse_input_row
from enrich.providers.base import CallResult, CallUsage, InvalidResponse, Provider
from enrich.providers.factory import make_provider, resolve_provider_name
from enrich.runner import EnrichmentRun, Job, JobRunner, RunnerConfig
from enrich.schema import TitleEnrichment, split_sentences
from enrich.store import open_journal

if TYPE_CHECKING:
    from enrich.providers.gemini_batch import GeminiBatchClient

__all__ = [
    "EnrichmentTrial",
    "Provider",
    "ReviewInput",
    "TitleInput",
    "enrich_titles",
    "enrich_without_storing",
    "parse_input_row",
    "prompt_version",
    "resolve_provider_name",
    "split_sentences",
]


def enrich_titles(ctx: RunContext, provider: Provider, gemini_batch: GeminiBatchClient | None) -> StepResult:
    """Enrich the pending titles of ``marts.titles_enrichment_input`` (step ``enrich_titles``) with the run's
    provider, or in one Gemini batch with the run's batch client when it has one (``enrich.mode: batch``:
    docs/enrichment.md; the provider then re-queues what got no answer). The composition root builds both
    from the settings and closes them with the run."""
    config = RunnerConfig.from_settings(ctx.settings)
    if gemini_batch is not None:
        from enrich import batch  # noqa: PLC0415 - the batch path loads the Gemini batch SDK types

        return batch.enrich_in_batch(ctx, config, gemini_batch, provider)
    with open_journal(ctx.warehouse) as journal:
        return EnrichmentRun.start(ctx, provider, config, journal).execute()


def prompt_version() -> str:
    """The prompt's version now (read at call time: a test changes it)."""
    return prompt.PROMPT_VERSION


class _CountingProvider:
    """Wraps a provider and counts the answers that failed validation (each one is retried or fails)."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self.invalid = 0

    def call(self, titles: list[TitleInput]) -> CallResult:
        try:
            result = self.inner.call(titles)
        except InvalidResponse:
            self.invalid += 1
            raise
        self.invalid += len(result.problems)
        return result

    def estimate_max_cost(self, titles: list[TitleInput]) -> float:
        return self.inner.estimate_max_cost(titles)

    def close(self) -> None:
        self.inner.close()


@dataclass
class EnrichmentTrial:
    """What :func:`enrich_without_storing` got: the enrichments by title id, the failures and their reasons,
    the usage, the calls, the answers that failed validation, and the fatal answer that stopped it (if any)."""

    provider: str
    model: str
    ok: dict[str, TitleEnrichment] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    usage: CallUsage = field(default_factory=CallUsage)
    calls: int = 0
    invalid_answers: int = 0
    fatal: str | None = None


def enrich_without_storing(settings: Settings, titles: list[TitleInput]) -> EnrichmentTrial:
    """Enrich ``titles`` with the configured provider through the runner's own job logic (budget, rate
    limit, retries); nothing is written to the side table."""
    config = RunnerConfig.from_settings(settings)
    provider = _CountingProvider(make_provider(settings))
    runner = JobRunner.for_run(provider, config)
    size = config.batch_size
    jobs = [Job(titles[i : i + size]) for i in range(0, len(titles), size)]
    trial = EnrichmentTrial(provider.name, provider.model)
    try:
        with ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="eval") as pool:
            while jobs:
                # The first call goes alone, as the pipeline's does: a revoked key or an unknown model then
                # costs one call, not one per worker; after a fatal answer the runner makes no further call.
                wave = jobs if runner.answered.is_set() else jobs[:1]
                outcomes = list(pool.map(runner.run, wave))
                jobs = jobs[len(wave) :]
                for outcome in outcomes:
                    trial.ok.update(outcome.ok)
                    trial.failed.update(outcome.failed)
                    trial.failed.update({t.id: "not evaluated: run stopped" for t in outcome.stopped})
                    trial.usage.add(outcome.usage)
                    trial.calls += outcome.calls
                    jobs += [Job([t], alone_retry=True) for t in outcome.retry_alone]
    finally:
        provider.close()
    trial.invalid_answers, trial.fatal = provider.invalid, runner.fatal_reason
    return trial
