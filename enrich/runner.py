"""The sync runner of the ``enrich_titles`` step (enrich/step.py): every pending title, one structured call
per title (or per batch).

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

from core import step_names
from core.config import Settings
from core.context import LlmUsage, RunContext, StepResult
from enrich.api_errors import Backoff
from enrich.budget import Budget
from enrich.inputs import InputError, TitleInput, parse_input_row
from enrich.journal import Journal
from enrich.plan import make_plan
from enrich.prompt import PROMPT_VERSION
from enrich.providers.base import (
    CallResult,
    CallUsage,
    InvalidResponse,
    PermanentError,
    Provider,
    TransientError,
)
from enrich.ratelimit import TokenBucket
from enrich.schema import TitleEnrichment
from enrich.store import (
    PendingWork,
    ReplayReport,
    ResultSink,
    enrichment_row,
    load_pending,
    replay_journal,
)

STEP = step_names.ENRICH_TITLES
COVERAGE_SETTING = "quality.min_enrichment_coverage"
BUDGET_SETTING = "enrich.max_cost_usd"

# Tests set this to record the retry waits instead of sleeping; by default a wait ends early when the
# run is stopping (a crash or a fatal error elsewhere), so no worker sleeps through a shutdown.
_sleep: Callable[[float], Any] | None = None


@dataclass(frozen=True)
class RunnerConfig:
    """What the runner reads of the ``enrich`` section (and the coverage it must reach), from the typed
    settings: config/base.yaml holds every default."""

    batch_size: int
    concurrency: int
    requests_per_minute: float
    max_cost_usd: float | None
    max_retries: int
    backoff: Backoff
    max_retry_after_s: float | None  # a longer server delay fails the row (it stays pending); None: no limit
    flush_every: int
    flush_seconds: float
    min_coverage: float  # share of the pending titles that must end ``ok`` (0 = no check)

    @classmethod
    def from_settings(cls, settings: Settings) -> RunnerConfig:
        enrich = settings.typed.enrich
        return cls(
            batch_size=enrich.batch_size,
            concurrency=enrich.concurrency,
            requests_per_minute=enrich.requests_per_minute,
            max_cost_usd=enrich.max_cost_usd,
            max_retries=enrich.max_retries,
            backoff=Backoff(base_s=enrich.backoff_base_s, max_s=enrich.max_backoff_s),
            max_retry_after_s=enrich.max_retry_after_s,
            flush_every=enrich.flush_every,
            flush_seconds=enrich.flush_seconds,
            min_coverage=settings.typed.quality.min_enrichment_coverage,
        )


class EnrichmentFailed(RuntimeError):
    """The step stored every result it paid for, but the run must fail: ``str()`` is the one-line cause,
    ``result`` the step's counters (calls, tokens, cost), for the run's metrics."""

    def __init__(self, message: str, result: StepResult) -> None:
        super().__init__(message)
        self.result = result


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


def step_usage(usage: CallUsage, calls: int) -> LlmUsage:
    """What ``calls`` provider calls that used ``usage`` add up to in the step's counters (cost to 6 decimals)."""
    return LlmUsage(calls, usage.input_tokens, usage.output_tokens, round(usage.cost_usd, 6))


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


@dataclass
class Attempts:
    """How often one job has been tried so far, per kind of failure."""

    transient: int = 0
    invalid: int = 0


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
        self._rng = random.SystemRandom()  # the backoff's jitter

    @classmethod
    def for_run(cls, provider: Provider, config: RunnerConfig) -> JobRunner:
        """A runner behind the run's rate limit (none for the heuristic: it calls nothing) and budget cap."""
        limiter = TokenBucket(config.requests_per_minute if provider.name != "heuristic" else 0)
        return cls(provider, config, limiter, Budget(config.max_cost_usd))

    def run(self, job: Job) -> JobOutcome:
        out = JobOutcome()
        attempts = Attempts(invalid=1 if job.alone_retry else 0)
        finished = False
        while not finished:
            finished = self._attempt(job.titles, out, attempts)
        return out

    def _attempt(self, titles: list[TitleInput], out: JobOutcome, attempts: Attempts) -> bool:
        """One call for ``titles``, its outcome recorded in ``out``; True when the job is finished."""
        reservation = self._reserve(titles, out)
        if reservation is None:
            return True
        out.calls += 1
        try:
            result = self.provider.call(titles)
        except TransientError as exc:
            self._answered(reservation, out, titles, exc.usage)
            return self._after_transient(exc, titles, out, attempts)
        except InvalidResponse as exc:
            self._answered(reservation, out, titles, exc.usage)
            return self._after_invalid(exc, titles, out, attempts)
        except PermanentError as exc:
            self._after_permanent(exc, reservation, titles, out)
            return True
        self._answered(reservation, out, titles, result.usage)
        self._take(result, titles, out)
        return True

    def _reserve(self, titles: list[TitleInput], out: JobOutcome) -> float | None:
        """The budget reserved for one call, its rate-limit token taken; None (titles stopped) when no call may go."""
        if self.stop.is_set():
            out.stopped = list(titles)
            return None
        reservation = self.provider.estimate_max_cost(titles)
        if not self.budget.try_reserve(reservation):
            out.stopped, out.budget_stopped = list(titles), True
            return None
        self.limiter.acquire()
        if self.stop.is_set():  # a fatal answer arrived while this job waited for a token: no call
            self.budget.settle(reservation, 0.0)
            out.stopped = list(titles)
            return None
        return reservation

    def _answered(
        self, reservation: float, out: JobOutcome, titles: list[TitleInput], usage: CallUsage
    ) -> None:
        """The service answered without a fatal error: the run opens up, the call is paid and charged."""
        self.answered.set()
        self.budget.settle(reservation, usage.cost_usd)
        out.charge(titles, usage)

    def _after_transient(
        self, exc: TransientError, titles: list[TitleInput], out: JobOutcome, attempts: Attempts
    ) -> bool:
        """Wait and retry (False), or fail the titles when out of attempts or the wait is too long (True)."""
        attempts.transient += 1
        delay = self.config.backoff.delay(attempts.transient, exc.retry_after, self._rng)
        if attempts.transient > self.config.max_retries:
            self._fail(out, titles, f"{exc} (gave up after {attempts.transient} attempts)")
            return True
        if self.config.max_retry_after_s is not None and delay > self.config.max_retry_after_s:
            self._fail(out, titles, f"{exc} (server asked to wait {delay:.0f}s)")
            return True
        out.retries += 1
        (_sleep or self.stop.wait)(delay)
        return False

    @staticmethod
    def _after_invalid(
        exc: InvalidResponse, titles: list[TitleInput], out: JobOutcome, attempts: Attempts
    ) -> bool:
        """A batch goes title by title (True); a single title is retried once (False), then failed (True)."""
        if len(titles) > 1:  # a batch answer that is unusable as a whole: each title alone, once
            out.retry_alone = list(titles)
            return True
        if attempts.invalid >= 1:
            JobRunner._fail(out, titles, f"{exc} (after a retry)")
            return True
        attempts.invalid += 1
        out.retries += 1
        return False

    def _after_permanent(
        self, exc: PermanentError, reservation: float, titles: list[TitleInput], out: JobOutcome
    ) -> None:
        """The titles fail; a fatal error (key, project, model, credits) also stops every further call."""
        self.budget.settle(reservation, exc.usage.cost_usd)
        out.charge(titles, exc.usage)
        if exc.fatal:
            self.fatal_reason = self.fatal_reason or str(exc)
            out.fatal = str(exc)
            self.stop.set()
        self.answered.set()  # after stop: a waiting main loop wakes to a stopped run
        self._fail(out, titles, str(exc))

    @staticmethod
    def _take(result: CallResult, titles: list[TitleInput], out: JobOutcome) -> None:
        """Keep the answered titles; a title missing from a batch answer goes alone, a single one fails."""
        out.ok.update(result.results)
        for title in titles:
            if title.id in result.results:
                continue
            if len(titles) > 1:
                out.retry_alone.append(title)
            else:
                out.failed[title.id] = result.problems.get(title.id, "no result for this title")

    @staticmethod
    def _fail(out: JobOutcome, titles: list[TitleInput], reason: str) -> None:
        for title in titles:
            out.failed[title.id] = reason


@dataclass
class RunTotals:
    ok: int = 0
    failed: int = 0
    calls: int = 0
    retries: int = 0
    retried_alone: int = 0
    stopped: int = 0
    usage: CallUsage = field(default_factory=CallUsage)


@dataclass(frozen=True)
class Selection:
    """What a run starts from: the journal's replay, the pending inputs, and this run's rows (``--limit``)."""

    replayed: ReplayReport
    work: PendingWork
    rows: list[dict[str, Any]]


class EnrichmentRun:
    """One run of the step: the state its phases share, one method per phase.

    :meth:`start` replays the journal and selects the pending inputs; :meth:`execute` validates them,
    calls the provider (thread pool), stores each outcome as it arrives and summarises the run.
    """

    def __init__(
        self,
        ctx: RunContext,
        provider: Provider,
        config: RunnerConfig,
        selection: Selection,
        sink: ResultSink,
    ) -> None:
        self.ctx, self.provider, self.config, self.sink = ctx, provider, config, sink
        self.replayed, self.work, self.rows = selection.replayed, selection.work, selection.rows
        self.totals = RunTotals()
        self.accumulated: dict[str, CallUsage] = {}  # each title's usage not yet stored in a row
        self.hashes: dict[str, str] = {}
        self.first_failure: str | None = None  # for the one-line cause of a coverage failure
        self.input_errors = 0
        self.queue: deque[Job] = deque()
        self.in_flight: dict[Future[JobOutcome], Job] = {}
        self.runner = JobRunner.for_run(provider, config)
        self._last_progress = 0

    # --- select inputs, replay the journal

    @classmethod
    def start(
        cls, ctx: RunContext, provider: Provider, config: RunnerConfig, journal: Journal
    ) -> EnrichmentRun:
        """Load what a crashed run left in the journal, then select the titles still pending."""
        warehouse = ctx.warehouse
        replayed = replay_journal(warehouse, journal)
        if replayed.loaded or replayed.rejected:
            torn = f"; {len(replayed.rejected)} torn/undecodable line(s) kept in {journal.rejected_path}"
            ctx.progress(
                f"enrich: loaded {replayed.loaded} result(s) a previous run left in the journal"
                + (torn if replayed.rejected else "")
            )
        work = load_pending(warehouse, PROMPT_VERSION, provider.model)
        limit = f" (limit {ctx.limit})" if ctx.limit is not None else ""
        ctx.progress(
            f"enrich: {len(work.rows)} of {work.total_inputs} titles pending{limit}; provider {provider.name}, "
            f"model {provider.model}, prompt {PROMPT_VERSION}"
        )
        for line in make_plan(warehouse, ctx.settings, provider.name, provider.model, work).lines()[1:]:
            ctx.progress(f"enrich: {line.strip()}")  # what a version change re-enriches, what it may cost
        rows = work.rows[: ctx.limit] if ctx.limit is not None else work.rows
        sink = ResultSink(warehouse, config.flush_every, config.flush_seconds, journal=journal)
        return cls(ctx, provider, config, Selection(replayed, work, rows), sink)

    def execute(self) -> StepResult:
        titles = self.validate_inputs()
        self.call_all(titles)
        return self.summarise()

    # --- validate

    def validate_inputs(self) -> list[TitleInput]:
        """The pending rows as typed inputs; an unusable row is stored ``failed`` with the reason, no call."""
        titles: list[TitleInput] = []
        for raw in self.rows:
            try:
                title = parse_input_row(raw)
            except InputError as exc:
                self._invalid_input(raw, f"invalid input: {exc}")
                continue
            self.hashes[title.id] = title.source_data_hash
            titles.append(title)
        return titles

    def _invalid_input(self, raw: dict[str, Any], reason: str) -> None:
        if raw.get("id") and raw.get("source_data_hash"):
            self.hashes[str(raw["id"])] = str(raw["source_data_hash"])
            self.sink.add([self._row(str(raw["id"]), None, reason)])
        self.input_errors += 1
        self.totals.failed += 1
        self.first_failure = self.first_failure or reason

    # --- call

    def call_all(self, titles: list[TitleInput]) -> None:
        """Run every job on the thread pool; on a crash, stop, keep what finished and store it, re-raise."""
        config, runner = self.config, self.runner
        size = config.batch_size
        self.queue.extend(Job(titles[i : i + size]) for i in range(0, len(titles), size))
        pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="enrich")
        try:
            while self.queue or self.in_flight:
                self._step(pool, runner)
        except BaseException:
            runner.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            self._salvage()
            self.sink.flush()  # best effort: whatever finished is paid for
            raise
        pool.shutdown(wait=True)
        self.sink.flush()

    def _step(self, pool: ThreadPoolExecutor, runner: JobRunner) -> None:
        """Submit what may run, wait for a job to finish (or a while), store its outcome."""
        # The first call goes alone: a revoked key or an unknown model then costs one call, not one per
        # worker. Once the service has answered, up to ``concurrency`` jobs run at once.
        opened = runner.answered.is_set()
        width = self.config.concurrency if opened else 1
        while self.queue and len(self.in_flight) < width:
            job = self.queue.popleft()
            self.in_flight[pool.submit(runner.run, job)] = job
        timeout = self.config.flush_seconds if opened else 0.05
        done, _ = wait(list(self.in_flight), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            self.in_flight.pop(future)
            self.store(future.result())
        self.sink.maybe_flush()
        self._progress()

    def _salvage(self) -> None:
        """After a crash: keep the outcomes of jobs that finished meanwhile (they were paid for)."""
        for future in list(self.in_flight):
            if future.done() and not future.cancelled() and future.exception() is None:
                self.store(future.result())

    # --- store

    def store(self, outcome: JobOutcome) -> None:
        """Count one job's outcome, queue its titles to retry alone, and hand its rows to the sink."""
        self._count(outcome)
        new_rows = [self._row(tid, enrichment) for tid, enrichment in outcome.ok.items()]
        new_rows += [self._row(tid, None, reason) for tid, reason in outcome.failed.items()]
        if outcome.failed and not self.first_failure:
            self.first_failure = next(iter(outcome.failed.values()))
        for title in outcome.retry_alone:
            self.queue.appendleft(Job([title], alone_retry=True))
            self.totals.retried_alone += 1
        new_rows += self._stopped_rows(outcome.stopped)
        self.sink.add(new_rows)

    def _count(self, outcome: JobOutcome) -> None:
        totals = self.totals
        totals.calls += outcome.calls
        totals.retries += outcome.retries
        totals.usage.add(outcome.usage)
        for title_id, usage in outcome.usage_by_id.items():
            self.accumulated.setdefault(title_id, CallUsage()).add(usage)
        totals.ok += len(outcome.ok)
        totals.failed += len(outcome.failed)

    def _stopped_rows(self, stopped: list[TitleInput]) -> list[dict[str, Any]]:
        """Titles the run stopped before finishing stay pending; those already paid for (part of a batch)
        get a ``failed`` row that records the cost."""
        rows = []
        for title in stopped:
            self.totals.stopped += 1
            if title.id in self.accumulated:
                rows.append(self._row(title.id, None, "run stopped before this title's retry"))
                self.totals.failed += 1
        return rows

    def _row(
        self, title_id: str, enrichment: TitleEnrichment | None, error: str | None = None
    ) -> dict[str, Any]:
        return enrichment_row(
            title_id=title_id,
            source_data_hash=self.hashes[title_id],
            prompt_version=PROMPT_VERSION,
            model=self.provider.model,
            provider=self.provider.name,
            enrichment=enrichment,
            usage=self.accumulated.pop(title_id, CallUsage()),
            error=error,
        )

    # --- summarise

    def _progress(self) -> None:
        totals = self.totals
        done = totals.ok + totals.failed
        if done - self._last_progress >= max(1, self.config.flush_every) or not (
            self.queue or self.in_flight
        ):
            self._last_progress = done
            self.ctx.progress(
                f"enrich: {done}/{len(self.rows)} titles ({totals.ok} ok, {totals.failed} failed), "
                f"{totals.calls} calls, ${totals.usage.cost_usd:.4f}"
            )

    def summarise(self) -> StepResult:
        """The step's counters; raises :class:`EnrichmentFailed` (with them) when the run must fail."""
        provider, totals, rows = self.provider, self.totals, self.rows
        result = StepResult(
            step=STEP,
            rows_in=len(rows),
            rows_out=totals.ok,
            llm=step_usage(totals.usage, totals.calls if provider.name != "heuristic" else 0),
            cache_hits=self.work.total_inputs - len(self.work.rows),
            details=self._details(),
        )
        problem = failure_cause(result, self.config, self.first_failure)
        if problem:
            result.details["failure"] = problem
            raise EnrichmentFailed(problem, result)
        return result

    def _details(self) -> dict[str, Any]:
        provider, totals, rows = self.provider, self.totals, self.rows
        return {
            "provider": provider.name,
            "model": provider.model,
            "prompt_version": PROMPT_VERSION,
            "failed": totals.failed,
            "invalid_inputs": self.input_errors,
            "budget_stopped": self.runner.budget.stopped,
            "stopped_reason": self.runner.fatal_reason,
            "left_pending": totals.stopped,
            "pending_total": len(self.work.rows),
            "provider_calls": totals.calls,
            "retries": totals.retries,
            "retried_alone": totals.retried_alone,
            "thoughts_tokens": totals.usage.thoughts_tokens,
            "batch_size": self.config.batch_size,
            "flushes": self.sink.flushes,
            "journal_replayed": self.replayed.loaded,
            "journal_rejected_lines": len(self.replayed.rejected),
            "coverage": round(totals.ok / len(rows), 4) if rows else None,
            "min_coverage": self.config.min_coverage,
        }


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
            f"budget cap reached: {details.get('left_pending', 0)} title(s) left pending after ${result.llm.cost_usd:.4f} "
            f"(cap ${config.max_cost_usd:g}); raise {BUDGET_SETTING} to enrich them"
        )
    if result.rows_in and result.rows_out < config.min_coverage * result.rows_in:
        sample = f"; first failure: {first_failure}" if first_failure else ""
        return (
            f"enrichment coverage {result.rows_out}/{result.rows_in} ({result.rows_out / result.rows_in:.0%}) "
            f"is below {COVERAGE_SETTING} {config.min_coverage:.0%}{sample}"
        )
    return None
