"""The ``enrich_titles`` step: enrich every pending title, one structured call per title (or per batch).

Flow: read pending inputs -> build jobs of ``enrich.batch_size`` titles -> run at most
``enrich.concurrency`` jobs at once (thread pool), each behind the token bucket and the budget cap, with
retries (exponential backoff + jitter, RetryInfo honoured) -> each row is journaled (fsynced) as it
arrives -> rows go to the side table in small chunks. A run first loads what a crashed run left in the
journal, so those titles count as done and are not paid for again.

Outcomes per title: ``ok`` row; ``failed`` row with the reason (stays pending, retried next run);
or no row at all when the run stopped before its call (budget cap, a fatal API error) - also pending.

Never silently green: the first call goes alone, so a revoked key, a refused project or an unknown model
costs one call; a fatal error stops every further call; and after everything paid for is stored, the step
fails (:class:`EnrichmentFailed`, one line) on a fatal error, on the budget cap, or when the share of
pending titles enriched ``ok`` is below ``quality.min_enrichment_coverage``.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from core.config import ConfigError, Settings
from core.context import RunContext, StepResult
from enrich.inputs import InputError, TitleInput, parse_input_row
from enrich.journal import Journal
from enrich.prompt import PROMPT_VERSION
from enrich.providers.base import (
    CallUsage,
    InvalidResponse,
    PermanentError,
    Provider,
    TransientError,
)
from enrich.ratelimit import TokenBucket
from enrich.retry import Backoff
from enrich.schema import TitleEnrichment
from enrich.store import ResultSink, enrichment_row, load_pending, open_journal, replay_journal

STEP = "enrich_titles"
PROVIDERS = ("auto", "gemini", "heuristic")
COVERAGE_SETTING = "quality.min_enrichment_coverage"
BUDGET_SETTING = "enrich.max_cost_usd"

# Tests set this to record the retry waits instead of sleeping; by default a wait ends early when the
# run is stopping (a crash or a fatal error elsewhere), so no worker sleeps through a shutdown.
_sleep: Callable[[float], Any] | None = None


@dataclass(frozen=True)
class RunnerConfig:
    batch_size: int = 1
    concurrency: int = 4
    requests_per_minute: float = 300
    max_cost_usd: float | None = 5.0
    max_retries: int = 5
    backoff: Backoff = field(default_factory=Backoff)
    max_retry_wait_s: float = 120.0
    flush_every: int = 25
    flush_seconds: float = 10.0
    min_coverage: float = 0.0  # share of the pending titles that must end ``ok`` (0 = no check)

    @classmethod
    def from_settings(cls, settings: Settings) -> RunnerConfig:
        cap = settings.get("enrich.max_cost_usd")
        return cls(
            batch_size=max(1, int(settings.require("enrich.batch_size"))),
            concurrency=max(1, int(settings.require("enrich.concurrency"))),
            requests_per_minute=float(settings.require("enrich.requests_per_minute")),
            max_cost_usd=None if cap in (None, "") else float(cap),
            max_retries=max(0, int(settings.require("enrich.max_retries"))),
            backoff=Backoff(
                base_s=float(settings.require("enrich.backoff_base_s")),
                max_s=float(settings.require("enrich.backoff_max_s")),
            ),
            max_retry_wait_s=float(settings.require("enrich.max_retry_wait_s")),
            flush_every=max(1, int(settings.require("enrich.flush_every"))),
            flush_seconds=float(settings.require("enrich.flush_seconds")),
            min_coverage=float(settings.get(COVERAGE_SETTING) or 0.0),
        )


class EnrichmentFailed(RuntimeError):
    """The step stored every result it paid for, but the run must fail: ``str()`` is the one-line cause,
    ``result`` the step's counters (calls, tokens, cost), for the run's metrics."""

    def __init__(self, message: str, result: StepResult) -> None:
        super().__init__(message)
        self.result = result


def resolve_provider_name(settings: Settings) -> str:
    name = str(settings.require("enrich.provider")).lower()
    if name not in PROVIDERS:
        raise ConfigError(f"enrich.provider={name!r} is not one of {', '.join(PROVIDERS)}")
    if name == "auto":
        return "gemini" if settings.secrets.get("GEMINI_API_KEY") else "heuristic"
    return name


def make_provider(settings: Settings) -> Provider:
    name = resolve_provider_name(settings)
    if name == "gemini":
        from enrich.providers.gemini import GeminiConfig, GeminiProvider

        return GeminiProvider(
            GeminiConfig.from_settings(settings), settings.secrets.get("GEMINI_API_KEY") or ""
        )
    from enrich.providers.heuristic import HeuristicProvider

    return HeuristicProvider()


class Budget:
    """Run-level spending cap. A call is issued only if its worst-case cost still fits (reservation)."""

    def __init__(self, cap_usd: float | None) -> None:
        self.cap = cap_usd
        self.spent = 0.0
        self.reserved = 0.0
        self.stopped = False
        self._lock = threading.Lock()

    def try_reserve(self, amount: float) -> bool:
        with self._lock:
            if self.cap is None:
                return True
            if self.stopped or self.spent + self.reserved + amount > self.cap:
                self.stopped = True
                return False
            self.reserved += amount
            return True

    def settle(self, reserved: float, actual: float) -> None:
        with self._lock:
            if self.cap is not None:
                self.reserved = max(0.0, self.reserved - reserved)
            self.spent += actual


def split_usage(usage: CallUsage, parts: int) -> list[CallUsage]:
    """Share one call's usage among ``parts`` titles; token shares sum exactly to the call's tokens."""
    parts = max(1, parts)
    shares = []
    for index in range(parts):

        def share(total: int, i: int = index) -> int:
            return total // parts + (1 if i < total % parts else 0)

        shares.append(
            CallUsage(
                input_tokens=share(usage.input_tokens),
                output_tokens=share(usage.output_tokens),
                thoughts_tokens=share(usage.thoughts_tokens),
                cost_usd=usage.cost_usd / parts,
                latency_ms=usage.latency_ms,
            )
        )
    return shares


@dataclass
class Job:
    titles: list[TitleInput]
    alone_retry: bool = False  # a title retried on its own after its batch answer lacked it


@dataclass
class JobOutcome:
    ok: dict[str, TitleEnrichment] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    retry_alone: list[TitleInput] = field(default_factory=list)
    stopped: list[TitleInput] = field(default_factory=list)
    usage_by_id: dict[str, CallUsage] = field(default_factory=dict)
    usage: CallUsage = field(default_factory=CallUsage)
    calls: int = 0
    retries: int = 0
    fatal: str | None = None
    budget_stopped: bool = False

    def charge(self, titles: list[TitleInput], usage: CallUsage) -> None:
        self.usage.add(usage)
        for title, share in zip(titles, split_usage(usage, len(titles)), strict=True):
            self.usage_by_id.setdefault(title.id, CallUsage()).add(share)


class JobRunner:
    """Runs one job: budget, rate limit, the call, and the retry decisions. Thread-safe; no I/O but the call."""

    def __init__(
        self, provider: Provider, config: RunnerConfig, limiter: TokenBucket, budget: Budget
    ) -> None:
        self.provider = provider
        self.config = config
        self.limiter = limiter
        self.budget = budget
        self.stop = threading.Event()
        self.answered = threading.Event()  # the service answered a call with no fatal error
        self.fatal_reason: str | None = None
        self._rng = random.Random()

    def run(self, job: Job) -> JobOutcome:
        titles = job.titles
        out = JobOutcome()
        transient_attempts = 0
        invalid_attempts = 1 if job.alone_retry else 0
        while True:
            if self.stop.is_set():
                out.stopped = list(titles)
                return out
            reservation = self.provider.estimate_max_cost(titles)
            if not self.budget.try_reserve(reservation):
                out.stopped, out.budget_stopped = list(titles), True
                return out
            self.limiter.acquire()
            if self.stop.is_set():  # a fatal answer arrived while this job waited for a token: no call
                self.budget.settle(reservation, 0.0)
                out.stopped = list(titles)
                return out
            out.calls += 1
            try:
                result = self.provider.call(titles)
            except TransientError as exc:
                self.answered.set()
                self.budget.settle(reservation, exc.usage.cost_usd)
                out.charge(titles, exc.usage)
                transient_attempts += 1
                delay = self.config.backoff.delay(transient_attempts, exc.retry_after, self._rng)
                if transient_attempts > self.config.max_retries:
                    return self._fail(out, titles, f"{exc} (gave up after {transient_attempts} attempts)")
                if delay > self.config.max_retry_wait_s:
                    return self._fail(out, titles, f"{exc} (server asked to wait {delay:.0f}s)")
                out.retries += 1
                (_sleep or self.stop.wait)(delay)
                continue
            except InvalidResponse as exc:
                self.answered.set()
                self.budget.settle(reservation, exc.usage.cost_usd)
                out.charge(titles, exc.usage)
                if len(titles) > 1:  # a batch answer that is unusable as a whole: each title alone, once
                    out.retry_alone = list(titles)
                    return out
                if invalid_attempts >= 1:
                    return self._fail(out, titles, f"{exc} (after a retry)")
                invalid_attempts += 1
                out.retries += 1
                continue
            except PermanentError as exc:
                self.budget.settle(reservation, exc.usage.cost_usd)
                out.charge(titles, exc.usage)
                if exc.fatal:
                    self.fatal_reason = self.fatal_reason or str(exc)
                    out.fatal = str(exc)
                    self.stop.set()
                self.answered.set()  # after stop: a waiting main loop wakes to a stopped run
                return self._fail(out, titles, str(exc))
            self.answered.set()
            self.budget.settle(reservation, result.usage.cost_usd)
            out.charge(titles, result.usage)
            out.ok.update(result.results)
            for title in titles:
                if title.id in result.results:
                    continue
                problem = result.problems.get(title.id, "no result for this title")
                if len(titles) > 1:
                    out.retry_alone.append(title)
                else:
                    out.failed[title.id] = problem
            return out

    @staticmethod
    def _fail(out: JobOutcome, titles: list[TitleInput], reason: str) -> JobOutcome:
        for title in titles:
            out.failed[title.id] = reason
        return out


@dataclass
class RunTotals:
    ok: int = 0
    failed: int = 0
    calls: int = 0
    retries: int = 0
    retried_alone: int = 0
    stopped: int = 0
    usage: CallUsage = field(default_factory=CallUsage)


def enrich_titles(ctx: RunContext) -> StepResult:
    """Enrich the pending titles of ``marts.titles_enrichment_input`` (step ``enrich_titles``)."""
    settings = ctx.settings
    config = RunnerConfig.from_settings(settings)
    provider = make_provider(settings)
    try:
        with open_journal(ctx.warehouse) as journal:
            return _run(ctx, provider, config, journal)
    finally:
        provider.close()


def _run(ctx: RunContext, provider: Provider, config: RunnerConfig, journal: Journal) -> StepResult:
    warehouse = ctx.warehouse
    replayed = replay_journal(warehouse, journal)
    if replayed.loaded or replayed.rejected:
        ctx.progress(
            f"enrich: loaded {replayed.loaded} result(s) a previous run left in the journal"
            + (
                f"; {len(replayed.rejected)} torn/undecodable line(s) kept in {journal.rejected_path}"
                if replayed.rejected
                else ""
            )
        )
    work = load_pending(warehouse, PROMPT_VERSION, provider.model)
    rows = work.rows[: ctx.limit] if ctx.limit is not None else work.rows
    result = StepResult(step=STEP, rows_in=len(rows), cache_hits=work.total_inputs - len(work.rows))
    ctx.progress(
        f"enrich: {len(work.rows)} of {work.total_inputs} titles pending"
        f"{f' (limit {ctx.limit})' if ctx.limit is not None else ''}; provider {provider.name}, "
        f"model {provider.model}, prompt {PROMPT_VERSION}"
    )

    totals = RunTotals()
    sink = ResultSink(warehouse, config.flush_every, config.flush_seconds, journal=journal)
    accumulated: dict[str, CallUsage] = {}
    hashes: dict[str, str] = {}

    def row(title_id: str, enrichment: TitleEnrichment | None, error: str | None = None) -> dict[str, Any]:
        return enrichment_row(
            title_id=title_id,
            source_data_hash=hashes[title_id],
            prompt_version=PROMPT_VERSION,
            model=provider.model,
            provider=provider.name,
            enrichment=enrichment,
            usage=accumulated.pop(title_id, CallUsage()),
            error=error,
        )

    titles: list[TitleInput] = []
    first_failure: list[str] = []  # the first failure's reason, for the one-line cause of a coverage failure
    input_errors = 0
    for raw in rows:
        try:
            title = parse_input_row(raw)
        except InputError as exc:
            if raw.get("id") and raw.get("source_data_hash"):
                hashes[str(raw["id"])] = str(raw["source_data_hash"])
                sink.add([row(str(raw["id"]), None, f"invalid input: {exc}")])
            input_errors += 1
            totals.failed += 1
            first_failure[:] = first_failure or [f"invalid input: {exc}"]
            continue
        hashes[title.id] = title.source_data_hash
        titles.append(title)

    limiter = TokenBucket(config.requests_per_minute if provider.name != "heuristic" else 0)
    budget = Budget(config.max_cost_usd)
    runner = JobRunner(provider, config, limiter, budget)
    size = config.batch_size
    queue: deque[Job] = deque(Job(titles[i : i + size]) for i in range(0, len(titles), size))

    def collect(outcome: JobOutcome) -> None:
        totals.calls += outcome.calls
        totals.retries += outcome.retries
        totals.usage.add(outcome.usage)
        for title_id, usage in outcome.usage_by_id.items():
            accumulated.setdefault(title_id, CallUsage()).add(usage)
        new_rows = [row(tid, enrichment) for tid, enrichment in outcome.ok.items()]
        new_rows += [row(tid, None, reason) for tid, reason in outcome.failed.items()]
        if outcome.failed and not first_failure:
            first_failure.append(next(iter(outcome.failed.values())))
        totals.ok += len(outcome.ok)
        totals.failed += len(outcome.failed)
        for title in outcome.retry_alone:
            queue.appendleft(Job([title], alone_retry=True))
            totals.retried_alone += 1
        for title in outcome.stopped:
            totals.stopped += 1
            if title.id in accumulated:  # paid for (part of a batch) but not finished: record the cost
                new_rows.append(row(title.id, None, "run stopped before this title's retry"))
                totals.failed += 1
        sink.add(new_rows)

    last_progress = [0]

    def progress() -> None:
        done = totals.ok + totals.failed
        if done - last_progress[0] >= max(1, config.flush_every) or not (queue or in_flight):
            last_progress[0] = done
            ctx.progress(
                f"enrich: {done}/{len(rows)} titles ({totals.ok} ok, {totals.failed} failed), "
                f"{totals.calls} calls, ${totals.usage.cost_usd:.4f}"
            )

    in_flight: dict[Future[JobOutcome], Job] = {}
    pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="enrich")
    try:
        while queue or in_flight:
            # The first call goes alone: a revoked key or an unknown model then costs one call, not one
            # per worker. Once the service has answered, up to ``concurrency`` jobs run at once.
            opened = runner.answered.is_set()
            while queue and len(in_flight) < (config.concurrency if opened else 1):
                job = queue.popleft()
                in_flight[pool.submit(runner.run, job)] = job
            done, _ = wait(
                list(in_flight), timeout=config.flush_seconds if opened else 0.05, return_when=FIRST_COMPLETED
            )
            for future in done:
                in_flight.pop(future)
                collect(future.result())
            sink.maybe_flush()
            progress()
    except BaseException:
        runner.stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        _salvage(in_flight, collect)
        sink.flush()  # best effort: whatever finished is paid for
        raise
    else:
        pool.shutdown(wait=True)
        sink.flush()

    result.rows_out = totals.ok
    result.llm_calls = totals.calls if provider.name != "heuristic" else 0
    result.tokens_in = totals.usage.input_tokens
    result.tokens_out = totals.usage.output_tokens
    result.cost_usd = round(totals.usage.cost_usd, 6)
    result.details = {
        "provider": provider.name,
        "model": provider.model,
        "prompt_version": PROMPT_VERSION,
        "failed": totals.failed,
        "invalid_inputs": input_errors,
        "budget_stopped": budget.stopped,
        "stopped_reason": runner.fatal_reason,
        "left_pending": totals.stopped,
        "pending_total": len(work.rows),
        "provider_calls": totals.calls,
        "retries": totals.retries,
        "retried_alone": totals.retried_alone,
        "thoughts_tokens": totals.usage.thoughts_tokens,
        "batch_size": config.batch_size,
        "flushes": sink.flushes,
        "journal_replayed": replayed.loaded,
        "journal_rejected_lines": len(replayed.rejected),
        "coverage": round(totals.ok / len(rows), 4) if rows else None,
        "min_coverage": config.min_coverage,
    }
    problem = failure_cause(result, config, first_failure[0] if first_failure else None)
    if problem:
        result.details["failure"] = problem
        raise EnrichmentFailed(problem, result)
    return result


def failure_cause(result: StepResult, config: RunnerConfig, first_failure: str | None = None) -> str | None:
    """Why a finished enrichment must fail the run, in one line (None when it may pass).

    In order: a fatal API error (nothing else could succeed), the budget cap (titles left unpaid), then
    coverage: the share of this run's pending titles enriched ``ok`` below ``quality.min_enrichment_coverage``
    (checked only when something was pending).
    """
    details = result.details
    if details.get("stopped_reason"):
        return str(details["stopped_reason"])
    if details.get("budget_stopped"):
        return (
            f"budget cap reached: {details.get('left_pending', 0)} title(s) left pending after ${result.cost_usd:.4f} "
            f"(cap ${config.max_cost_usd:g}); raise {BUDGET_SETTING} to enrich them"
        )
    if result.rows_in and result.rows_out < config.min_coverage * result.rows_in:
        sample = f"; first failure: {first_failure}" if first_failure else ""
        return (
            f"enrichment coverage {result.rows_out}/{result.rows_in} ({result.rows_out / result.rows_in:.0%}) "
            f"is below {COVERAGE_SETTING} {config.min_coverage:.0%}{sample}"
        )
    return None


def _salvage(in_flight: dict[Future[JobOutcome], Job], collect: Any) -> None:
    """After a crash: keep the outcomes of jobs that finished meanwhile (they were paid for)."""
    for future in list(in_flight):
        if future.done() and not future.cancelled() and future.exception() is None:
            collect(future.result())
