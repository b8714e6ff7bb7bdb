"""``enrich.mode: batch``: the day's pending titles as one Gemini batch, at the batch price, paid once.

A run (the CLI's ``enrich``, or the DAG task after its deferred wait) goes:

1. replay the results journal (what a crashed run paid for), as the sync path does;
2. **re-attach** to every batch of the ledger ``ops.enrichment_batches`` not harvested yet (a batch
   still ``SUBMITTING`` - the process died around the create call - is looked up by its display name,
   our submission id, with ``batches.list``): wait for it, then harvest it;
3. **submit** this run's batch when no batch is open and the run has none yet: the ledger row is written
   ``SUBMITTING`` before the create call and with the batch's name right after it, before any wait; so
   a retry or the next run finds the batch again and never pays for the same titles twice;
4. **wait**: the CLI polls ``batches.get`` every ``enrich.batch.poll_interval_s`` with a progress line;
   the DAG defers to a trigger instead (dags/enrich_batch.py), so no worker is held, and resumes here;
5. **harvest** into the side table through the same journal and sink as the sync path: a valid answer is
   an ``ok`` row, an invalid one a ``failed`` row with the reason (quarantined; pending again next run),
   each priced at ``enrich.batch.price_factor`` × the interactive prices;
6. **re-queue** what got no answer (a request's error, an expired, failed or cancelled batch): with
   ``enrich.batch.requeue: sync`` the titles go through the sync runner now (interactive price, the
   remaining budget); with ``next_batch`` they stay pending for the next run's batch.

The step's counters, its one-line failures and the coverage check are the sync path's (enrich/runner.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

from core import raw_spec
from core.config import Settings
from core.context import RunContext, StepResult
from core.warehouse import OPS, Warehouse
from enrich import store
from enrich.inputs import InputError, TitleInput, parse_input_row
from enrich.journal import Journal
from enrich.prompt import PROMPT_VERSION
from enrich.providers.base import CallUsage, PermanentError, Provider, ProviderError, TransientError
from enrich.providers.factory import resolve_provider_name
from enrich.providers.gemini_batch import Answer, BatchStatus, GeminiBatchClient
from enrich.runner import (
    STEP,
    EnrichmentFailed,
    EnrichmentRun,
    RunnerConfig,
    Selection,
    failure_cause,
    step_usage,
)

SPEC = raw_spec.ENRICHMENT_BATCHES
LEDGER = SPEC.relation
LEDGER_DDL = raw_spec.state_table_ddl(SPEC)
SUBMITTING, NOT_SUBMITTED, NOT_FOUND = "SUBMITTING", "NOT_SUBMITTED", "NOT_FOUND"

# Tests set this to count the polls instead of sleeping (the fake moves a batch on at every GET).
_sleep: Callable[[float], Any] = time.sleep


def batch_mode(settings: Settings) -> bool:
    """``enrich.mode`` is ``batch`` and the provider is Gemini (the heuristic provider has no batches)."""
    return settings.typed.enrich.mode == "batch" and resolve_provider_name(settings) == "gemini"


# ---- the ledger: ops.enrichment_batches -----------------------------------------------------------------
def _total_usage(answers: list[Answer]) -> CallUsage:
    usage = CallUsage()
    for answer in answers:
        usage.add(answer.usage)
    return usage


def _close(record: BatchRecord, status: BatchStatus, answers: list[Answer], usage: CallUsage) -> None:
    """A finished batch's ledger row: its end state, answer counts, tokens and cost, harvested now."""
    record.state, record.error = status.state, status.error
    record.ok_count = sum(1 for a in answers if a.enrichment is not None)
    record.invalid_count = sum(1 for a in answers if a.invalid is not None)
    record.error_count = record.request_count - record.ok_count - record.invalid_count
    record.input_tokens, record.output_tokens = usage.input_tokens, usage.output_tokens
    record.cost_usd = round(usage.cost_usd, 8)
    record.harvested_at = _now()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class BatchRecord:
    """One row of ``ops.enrichment_batches`` (its columns are :data:`SPEC`'s)."""

    submission_id: str
    batch_name: str | None
    run_id: str
    model: str
    prompt_version: str
    state: str
    input: str | None = None
    request_count: int = 0
    ok_count: int = 0
    invalid_count: int = 0
    error_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    price_factor: float = 0.5
    error: str | None = None
    submitted_at: datetime = field(default_factory=_now)
    harvested_at: datetime | None = None


class BatchLedger:
    """The batches the enrichment submitted, in the warehouse: written before every wait."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        names = [f.name for f in fields(BatchRecord)]
        if names != [c.name for c in SPEC.columns]:  # one owner: the spec; the record follows it
            raise RuntimeError("BatchRecord's fields differ from raw_spec.ENRICHMENT_BATCHES' columns")
        self._columns = names

    def open_records(self) -> list[BatchRecord]:
        """Batches submitted (or being submitted) and not harvested yet, oldest first."""
        if not self.warehouse.table_exists(OPS, SPEC.name):
            return []
        rows = self.warehouse.fetch_all(
            f"select * from {LEDGER} where harvested_at is null and state <> ? order by submitted_at",  # nosec B608  # noqa: S608 - constant identifiers: raw_spec
            [NOT_SUBMITTED],
        )
        return [self._record(row) for row in rows]

    def submitted_by(self, run_id: str) -> bool:
        """Whether ``run_id`` already has a batch (a run submits at most one)."""
        if not self.warehouse.table_exists(OPS, SPEC.name):
            return False
        rows = self.warehouse.fetch_all(
            f"select count(*) as n from {LEDGER} where run_id = ? and state <> ?",  # nosec B608  # noqa: S608 - constant identifiers: raw_spec
            [run_id, NOT_SUBMITTED],
        )
        return bool(rows[0]["n"])

    def save(self, record: BatchRecord) -> None:
        """Write the record (replacing its earlier version) in one transaction."""
        markers = self.warehouse._paramstyle
        values = asdict(record)
        with self.warehouse.connect() as conn:
            cur = conn.cursor()
            cur.execute(f"create schema if not exists {OPS}")
            cur.execute(LEDGER_DDL)
            cur.execute(markers(f"delete from {LEDGER} where submission_id = ?"), [record.submission_id])  # nosec B608  # noqa: S608 - constant identifiers: raw_spec
            cur.execute(
                markers(
                    f"insert into {LEDGER} ({', '.join(self._columns)}) "  # nosec B608  # noqa: S608 - constant identifiers: raw_spec
                    f"values ({', '.join('?' for _ in self._columns)})"
                ),
                [values[name] for name in self._columns],
            )

    def _record(self, row: dict[str, Any]) -> BatchRecord:
        """A ledger row as a record: its counters and amounts by their spec types, a null as zero."""
        numbers = {raw_spec.BIGINT: int, raw_spec.DOUBLE: float}
        return BatchRecord(
            **{
                c.name: numbers[c.type](row.get(c.name) or 0) if c.type in numbers else row.get(c.name)
                for c in SPEC.columns
            }
        )


# ---- the run ---------------------------------------------------------------------------------------------
@dataclass
class BatchTotals:
    ok: int = 0
    invalid: int = 0
    errors: int = 0
    requests: int = 0  # requests of the batches harvested in this run
    answered: int = 0  # of which answered (paid)
    input_errors: int = 0
    usage: CallUsage = field(default_factory=CallUsage)
    batches: list[str] = field(default_factory=list)


class BatchEnrichment:
    """One run of the step in batch mode; :meth:`prepare` (the DAG's submit) and :meth:`run` (everything)."""

    def __init__(
        self, ctx: RunContext, client: GeminiBatchClient, config: RunnerConfig, journal: Journal
    ) -> None:
        self.ctx, self.client, self.config, self.journal = ctx, client, config, journal
        self.warehouse = ctx.warehouse
        self.ledger = BatchLedger(self.warehouse)
        self.sink = store.ResultSink(
            self.warehouse, config.flush_every, config.flush_seconds, journal=journal
        )
        self.totals = BatchTotals()
        self.quarantined: set[str] = set()  # answered invalid in this run: not re-queued before the next run
        self.handled: set[str] = set()  # titles this run stored a row for
        self.first_failure: str | None = None
        self.budget_stopped = False
        self.left_pending = 0
        self.replayed = store.ReplayReport(0, [])
        self.sync_run: EnrichmentRun | None = None
        self.cache_hits: int | None = None  # titles already enriched for this prompt and model, at first look

    # --- phases

    def replay(self) -> None:
        self.replayed = store.replay_journal(self.warehouse, self.journal)
        if self.replayed.loaded or self.replayed.rejected:
            self.ctx.progress(
                f"enrich: loaded {self.replayed.loaded} result(s) a previous run left in the journal"
            )

    def prepare(self) -> list[str]:
        """Without waiting: re-attach to the open batches, or submit this run's; the names to wait for."""
        self.replay()
        open_records = [r for r in map(self.attach, self.ledger.open_records()) if r is not None]
        if open_records:  # a finished one too: the wait then ends at its first poll
            return [str(r.batch_name) for r in open_records]
        if self.ledger.submitted_by(self.ctx.run_id):
            return []
        record = self.submit()
        self.sink.flush()  # the rows of unusable inputs
        return [str(record.batch_name)] if record else []

    def run(self, provider: Provider) -> StepResult:
        """Re-attach, submit, wait, harvest, re-queue (``provider``: the sync calls of ``requeue: sync``); the
        step's counters (EnrichmentFailed when it must fail)."""
        self.replay()
        while True:
            open_records = [r for r in map(self.attach, self.ledger.open_records()) if r is not None]
            for record in open_records:
                job = self.wait(record)
                if job is None:
                    self.lose(record)
                else:
                    self.harvest(record, job)
            if open_records:
                continue  # look again: nothing is open now, and this run may still submit its batch
            if self.ledger.submitted_by(self.ctx.run_id) or self.submit() is None:
                break
        self.requeue(provider)
        return self.summarise()

    # --- attach, submit

    def attach(self, record: BatchRecord) -> BatchRecord | None:
        """The record with its batch name; a ``SUBMITTING`` one is looked up by its display name."""
        if record.state != SUBMITTING or record.batch_name:
            return record
        found = self.client.find(record.submission_id)
        if found is None:  # the create call never reached the service: nothing was paid for
            record.state = NOT_SUBMITTED
            self.ledger.save(record)
            self.ctx.progress(
                f"enrich: submission {record.submission_id} never reached Gemini; it is dropped"
            )
            return None
        record.batch_name, record.state = found.name, found.state
        self.ledger.save(record)
        self.ctx.progress(f"enrich: found batch {found.name} of submission {record.submission_id} again")
        return record

    def submit(self) -> BatchRecord | None:
        """Submit the pending titles as one batch (None when nothing is pending); the ledger is written first."""
        titles = self.pending_titles()
        if not titles:
            return None
        record = BatchRecord(
            submission_id=f"trending-now-{self.warehouse.target}-{self.ctx.run_id}-{uuid.uuid4().hex[:8]}",
            batch_name=None,
            run_id=self.ctx.run_id,
            model=self.client.model,
            prompt_version=PROMPT_VERSION,
            state=SUBMITTING,
            request_count=len(titles),
            price_factor=self.client.batch.price_factor,
        )
        self.ledger.save(record)  # before the call: a lost answer is found again by this display name
        try:
            status, how = self.client.submit(titles, record.submission_id)
        except PermanentError as exc:  # refused: no batch exists, nothing is paid
            record.state, record.error = NOT_SUBMITTED, str(exc)[:1000]
            self.ledger.save(record)
            raise self.failed(f"batch submission refused: {exc}") from exc
        except ProviderError as exc:  # maybe created: the next attempt looks it up before submitting again
            raise self.failed(
                f"batch submission unanswered ({exc}); the next run looks submission {record.submission_id} up "
                "before submitting again"
            ) from exc
        record.batch_name, record.state, record.input = status.name, status.state, how
        self.ledger.save(record)  # before any wait
        self.ctx.progress(
            f"enrich: submitted batch {status.name} ({len(titles)} requests, {how}, model {self.client.model}, "
            f"prompt {PROMPT_VERSION}, {self.client.batch.price_factor:g}x price)"
        )
        return record

    def pending_titles(self) -> list[TitleInput]:
        """This run's pending titles (``--limit``), within the budget; an unusable input is stored failed."""
        work = self._pending()
        rows = [r for r in work.rows if str(r.get("id")) not in self.quarantined]
        if self.ctx.limit is not None:
            rows = rows[: self.ctx.limit]
        titles: list[TitleInput] = []
        spent = self.totals.usage.cost_usd
        cap = self.config.max_cost_usd
        for raw in rows:
            try:
                title = parse_input_row(raw)
            except InputError as exc:
                self._invalid_input(raw, f"invalid input: {exc}")
                continue
            estimate = self.client.estimate_max_cost([title])
            if cap is not None and spent + estimate > cap:
                self.budget_stopped = True
                self.left_pending += 1
                continue
            spent += estimate
            titles.append(title)
        self.ctx.progress(
            f"enrich: {len(titles)} of {work.total_inputs} titles pending for a batch; provider gemini, model "
            f"{self.client.model}, prompt {PROMPT_VERSION}"
        )
        return titles

    def _pending(self) -> store.PendingWork:
        work = store.load_pending(self.warehouse, PROMPT_VERSION, self.client.model)
        if self.cache_hits is None:
            self.cache_hits = work.total_inputs - len(work.rows)
        return work

    def _invalid_input(self, raw: dict[str, Any], reason: str) -> None:
        self.totals.input_errors += 1
        self.first_failure = self.first_failure or reason
        if raw.get("id") and raw.get("source_data_hash"):
            self.quarantined.add(str(raw["id"]))
            self.sink.add(
                [self._row(str(raw["id"]), str(raw["source_data_hash"]), None, CallUsage(), reason)]
            )

    # --- wait, harvest

    def wait(self, record: BatchRecord) -> Any:
        """Poll the batch until it ends, a progress line per poll; fails the step after ``max_wait_s``.
        None when the service no longer knows the batch (deleted)."""
        name = str(record.batch_name)
        started = time.monotonic()
        while True:
            try:
                job = self.client.get(name)
            except PermanentError as exc:
                if exc.code != 404:
                    raise
                record.error = str(exc)[:1000]
                return None  # the service no longer knows it (deleted): its titles are re-queued
            except TransientError as exc:  # a blip while polling: the batch runs on, poll again
                if time.monotonic() - started >= self.client.batch.max_wait_s:
                    raise self.failed(
                        f"polling batch {name} failed: {exc}; the next run re-attaches to it"
                    ) from exc
                self.ctx.progress(f"enrich: polling batch {name} failed ({exc}); polling again")
                _sleep(self.client.batch.poll_interval_s)
                continue
            status = BatchStatus.of(job)
            waited = time.monotonic() - started
            if status.done:
                return job
            if status.state != record.state:
                record.state = status.state
                self.ledger.save(record)
            self.ctx.progress(
                f"enrich: batch {name} {status.state.lower()} ({record.request_count} requests), waited {waited:.0f}s"
            )
            if waited >= self.client.batch.max_wait_s:
                raise self.failed(
                    f"batch {name} still {status.state.lower()} after {waited:.0f}s (enrich.batch.max_wait_s); "
                    "it runs on and the next run re-attaches to it"
                )
            _sleep(self.client.batch.poll_interval_s)

    def harvest(self, record: BatchRecord, job: Any) -> None:
        """Store every answer of a finished batch (journal, then side table), then mark it harvested."""
        status = BatchStatus.of(job)
        answers = self.client.answers(job) if status.state == "SUCCEEDED" else []
        rows = [self._answer_row(record, answer) for answer in answers if answer.error is None]
        errors = [a for a in answers if a.error is not None]
        self.sink.add(rows)
        self.sink.flush()
        usage = _total_usage(answers)
        _close(record, status, answers, usage)
        self.ledger.save(record)
        self._count(record, answered=len(answers) - len(errors), usage=usage)
        if errors or status.state != "SUCCEEDED":
            self.first_failure = self.first_failure or (
                errors[0].error if errors else f"batch {status.state}"
            )
        self.ctx.progress(
            f"enrich: batch {record.batch_name} {status.state.lower()}: {record.ok_count} ok, {record.invalid_count} "
            f"invalid, {record.error_count} without an answer; ${record.cost_usd:.4f} at "
            f"{record.price_factor:g}x price"
        )

    def _count(self, record: BatchRecord, answered: int, usage: CallUsage) -> None:
        """Add a harvested batch's counts to the run's totals."""
        totals = self.totals
        totals.ok += record.ok_count
        totals.invalid += record.invalid_count
        totals.errors += record.error_count
        totals.requests += record.request_count
        totals.answered += answered
        totals.usage.add(usage)
        totals.batches.append(str(record.batch_name))

    def lose(self, record: BatchRecord) -> None:
        """A batch the service no longer knows: closed in the ledger, its titles pending (re-queued)."""
        record.state, record.error_count, record.harvested_at = NOT_FOUND, record.request_count, _now()
        self.ledger.save(record)
        self.totals.requests += record.request_count
        self.totals.errors += record.request_count
        self.first_failure = self.first_failure or f"batch {record.batch_name} not found"
        self.ctx.progress(
            f"enrich: batch {record.batch_name} is unknown to Gemini now; its titles are re-queued"
        )

    def _answer_row(self, record: BatchRecord, answer: Answer) -> dict[str, Any]:
        if answer.invalid is not None:
            self.quarantined.add(answer.title_id)
            self.first_failure = self.first_failure or answer.invalid
        self.handled.add(answer.title_id)
        return store.enrichment_row(
            title_id=answer.title_id,
            source_data_hash=answer.source_data_hash,
            prompt_version=record.prompt_version,
            model=record.model,
            provider=self.client.name,
            enrichment=answer.enrichment,
            usage=answer.usage,
            error=answer.invalid,
        )

    def _row(
        self, title_id: str, source_hash: str, enrichment: Any, usage: CallUsage, error: str | None
    ) -> dict[str, Any]:
        self.handled.add(title_id)
        return store.enrichment_row(
            title_id=title_id,
            source_data_hash=source_hash,
            prompt_version=PROMPT_VERSION,
            model=self.client.model,
            provider=self.client.name,
            enrichment=enrichment,
            usage=usage,
            error=error,
        )

    # --- re-queue

    def requeue(self, provider: Provider) -> None:
        """Titles still pending after the harvest (no answer): the sync runner now (with ``provider``), or
        the next batch."""
        self.sink.flush()
        work = self._pending()
        rows = [r for r in work.rows if str(r.get("id")) not in self.quarantined]
        if self.ctx.limit is not None:
            rows = rows[: max(0, self.ctx.limit - len(self.handled))]
        if self.budget_stopped or not rows:
            return
        if self.client.batch.requeue != "sync":
            self.left_pending += len(rows)
            self.ctx.progress(
                f"enrich: {len(rows)} title(s) without an answer stay pending for the next batch"
            )
            return
        self.ctx.progress(f"enrich: re-queueing {len(rows)} title(s) without an answer as sync calls")
        cap = self.config.max_cost_usd
        remaining = None if cap is None else max(0.0, cap - self.totals.usage.cost_usd)
        config = replace(self.config, max_cost_usd=remaining)
        selection = Selection(store.ReplayReport(0, []), store.PendingWork(work.total_inputs, rows), rows)
        run = EnrichmentRun(self.ctx, provider, config, selection, self.sink)
        self.sync_run = run
        run.call_all(run.validate_inputs())

    # --- summarise

    def failed(self, message: str) -> EnrichmentFailed:
        """The step's one-line failure, after everything paid for is stored."""
        self.sink.flush()
        result = self._result()
        result.details["failure"] = message
        return EnrichmentFailed(message, result)

    def _result(self) -> StepResult:
        totals, sync = self.totals, self.sync_run
        usage = CallUsage()
        usage.add(totals.usage)
        ok, failed, calls = totals.ok, totals.invalid + totals.input_errors, totals.answered
        rows_in = totals.requests + totals.input_errors  # the titles this run's batches and checks took
        details: dict[str, Any] = {}
        if sync is not None:
            usage.add(sync.totals.usage)
            ok += sync.totals.ok
            failed += sync.totals.failed
            calls += sync.totals.calls
            details = {
                "stopped_reason": sync.runner.fatal_reason,
                "sync_budget_stopped": sync.runner.budget.stopped,
            }
        rows_in = max(rows_in, ok + failed)
        return StepResult(
            step=STEP,
            rows_in=rows_in,
            rows_out=ok,
            llm=step_usage(usage, calls),
            cache_hits=self.cache_hits or 0,
            details={
                "provider": self.client.name,
                "model": self.client.model,
                "prompt_version": PROMPT_VERSION,
                "mode": "batch",
                "batches": totals.batches,
                "batch_requests": totals.requests,
                "batch_ok": totals.ok,
                "batch_invalid": totals.invalid,
                "batch_without_answer": totals.errors,
                "batch_cost_usd": round(totals.usage.cost_usd, 6),
                "price_factor": self.client.batch.price_factor,
                "requeue": self.client.batch.requeue,
                "requeued_sync": sync.totals.calls if sync is not None else 0,
                "sync_cost_usd": round(sync.totals.usage.cost_usd, 6) if sync is not None else 0.0,
                "failed": failed,
                "invalid_inputs": totals.input_errors,
                "budget_stopped": self.budget_stopped or bool(details.get("sync_budget_stopped")),
                "stopped_reason": details.get("stopped_reason"),
                "left_pending": self.left_pending,
                "thoughts_tokens": usage.thoughts_tokens,
                "journal_replayed": self.replayed.loaded,
                "journal_rejected_lines": len(self.replayed.rejected),
                "coverage": round(ok / rows_in, 4) if rows_in else None,
                "min_coverage": self.config.min_coverage,
            },
        )

    def summarise(self) -> StepResult:
        result = self._result()
        problem = failure_cause(result, self.config, self.first_failure)
        if problem:
            result.details["failure"] = problem
            raise EnrichmentFailed(problem, result)
        return result


def enrich_in_batch(
    ctx: RunContext, config: RunnerConfig, gemini_batch: GeminiBatchClient, provider: Provider
) -> StepResult:
    """The ``enrich_titles`` step in batch mode (enrich/step.py hands over when the run has a batch client;
    the composition root builds it, and the sync ``provider``, and closes them with the run)."""
    with store.open_journal(ctx.warehouse) as journal:
        return BatchEnrichment(ctx, gemini_batch, config, journal).run(provider)


def prepare_batches(ctx: RunContext, gemini_batch: GeminiBatchClient | None) -> list[str]:
    """The DAG's first half: re-attach or submit, no wait; the batch names to wait for ([] = nothing, or no
    batch client: ``enrich.mode: sync``). ``trending_now.compose.call_step`` gives it the run's client."""
    if gemini_batch is None:
        return []
    with store.open_journal(ctx.warehouse) as journal:
        return BatchEnrichment(ctx, gemini_batch, RunnerConfig.from_settings(ctx.settings), journal).prepare()
