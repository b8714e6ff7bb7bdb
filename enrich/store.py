"""The side table ``raw_enrichment.title_enrichments``: what is pending, and writing results in chunks.

A title is pending when its ``(id, source_data_hash, prompt_version, model)`` has no ``status='ok'`` row.
Results are written with dlt (merge on that key) in small chunks, and a later ``ok`` row replaces an
earlier ``failed`` one. Each row is first appended to the write-ahead journal (``enrich.journal``), so a
crash between two chunks loses no paid result: the next run loads what the journal holds first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core import raw_spec
from core.dbt_relations import relation
from core.warehouse import RAW_ENRICHMENT, Warehouse
from enrich.journal import Journal, RejectedLine
from enrich.providers.base import CallUsage
from enrich.schema import TitleEnrichment

# The enrichment input: the public, contracted dbt model titles_enrichment_input (models/marts).
INPUT = relation("titles_enrichment_input")
INPUT_SCHEMA, INPUT_TABLE = INPUT.schema, INPUT.name
TABLE = raw_spec.TITLE_ENRICHMENTS.name
PIPELINE = "enrichment"
PRIMARY_KEY = raw_spec.TITLE_ENRICHMENTS.primary_key

COLUMNS = raw_spec.dlt_columns(raw_spec.TITLE_ENRICHMENTS)
MAX_ERROR_CHARS = 1000


def pending_sql(table_exists: bool) -> str:
    base = f"select * from {INPUT_SCHEMA}.{INPUT_TABLE} i"  # nosec B608  # noqa: S608 - constant identifiers: dbt_relations
    if not table_exists:
        return f"{base} order by i.id"
    return (
        f"{base} where not exists (select 1 from {RAW_ENRICHMENT}.{TABLE} e "  # noqa: S608 - constant identifiers: warehouse, raw_spec
        "where e.id = i.id and e.source_data_hash = i.source_data_hash "
        "and e.prompt_version = ? and e.model = ? and e.status = 'ok') order by i.id"
    )


@dataclass
class PendingWork:
    total_inputs: int
    rows: list[dict[str, Any]]


def load_pending(warehouse: Warehouse, prompt_version: str, model: str) -> PendingWork:
    """All input rows, and those without a successful enrichment for this prompt version and model."""
    if not warehouse.table_exists(INPUT_SCHEMA, INPUT_TABLE):
        raise RuntimeError(
            f"{INPUT_SCHEMA}.{INPUT_TABLE} does not exist: run the transform step (dbt staging/intermediate) first"
        )
    total = warehouse.fetch_all(f"select count(*) as n from {INPUT_SCHEMA}.{INPUT_TABLE}")[0]["n"]  # nosec B608  # noqa: S608 - constant identifiers: dbt_relations
    if warehouse.table_exists(RAW_ENRICHMENT, TABLE):
        rows = warehouse.fetch_all(pending_sql(True), [prompt_version, model])
    else:
        rows = warehouse.fetch_all(pending_sql(False))
    return PendingWork(total_inputs=int(total), rows=rows)


def enrichment_row(
    *,
    title_id: str,
    source_data_hash: str,
    prompt_version: str,
    model: str,
    provider: str,
    enrichment: TitleEnrichment | None,
    usage: CallUsage,
    error: str | None = None,
    enriched_at: datetime | None = None,
) -> dict[str, Any]:
    """One row of the side table; ``enrichment=None`` makes a ``failed`` row carrying ``error``."""
    ok = enrichment is not None
    return {
        "id": title_id,
        "source_data_hash": source_data_hash,
        "prompt_version": prompt_version,
        "model": model,
        "provider": provider,
        "status": "ok" if ok else "failed",
        "review_summary": enrichment.review_summary if ok else None,
        "score": float(enrichment.score) if ok else None,
        "vibe_tags": ",".join(enrichment.vibe_tags) if ok else None,
        "primary_genre": enrichment.primary_genre if ok else None,
        "secondary_genres": ",".join(enrichment.secondary_genres) if ok else None,
        "input_tokens": int(usage.input_tokens),
        "output_tokens": int(usage.output_tokens),
        "cost_usd": round(float(usage.cost_usd), 8),
        "latency_ms": round(float(usage.latency_ms), 1),
        "error": None if ok else (error or "unknown error")[:MAX_ERROR_CHARS],
        "enriched_at": enriched_at or datetime.now(UTC),
    }


def title_enrichments_resource(rows: list[dict[str, Any]]) -> Any:
    import dlt  # noqa: PLC0415 - dlt only when loading (keeps the CLI and DAG parse light)

    return dlt.resource(
        rows,
        name=TABLE,
        table_name=TABLE,
        write_disposition="merge",
        primary_key=list(PRIMARY_KEY),
        columns=COLUMNS,
    )


def open_journal(warehouse: Warehouse) -> Journal:
    """The target's journal on the shared remote, where any worker can replay it."""
    return Journal.for_target(warehouse.settings, warehouse.target, timestamp_fields=("enriched_at",)).open()


@dataclass(frozen=True)
class ReplayReport:
    loaded: int
    rejected: list[RejectedLine]


def replay_journal(warehouse: Warehouse, journal: Journal) -> ReplayReport:
    """Load the rows a crashed run left in the journal, then clear it. Undecodable lines are quarantined."""
    contents = journal.read()
    rows = contents.rows
    if rows:
        warehouse.dlt_run(PIPELINE, RAW_ENRICHMENT, title_enrichments_resource(rows))
    journal.quarantine(contents.rejected)
    if rows or contents.rejected:
        journal.clear()
    return ReplayReport(loaded=len(rows), rejected=contents.rejected)


@dataclass
class ResultSink:
    """Buffers result rows and writes them with dlt every ``flush_every`` rows or ``flush_seconds``.

    With a ``journal``, each row is journaled (fsynced) before it is buffered, and dropped from the
    journal once its chunk is in the warehouse.
    """

    warehouse: Warehouse
    flush_every: int = 25
    flush_seconds: float = 10.0
    on_flush: Callable[[int], None] | None = None
    clock: Callable[[], float] = time.monotonic
    buffer: list[dict[str, Any]] = field(default_factory=list)
    written: int = 0
    flushes: int = 0
    journal: Journal | None = None

    def __post_init__(self) -> None:
        self._last_flush = self.clock()
        self._journaled: list[int] = []  # journal sequence numbers of the buffered rows

    def add(self, rows: list[dict[str, Any]]) -> None:
        if self.journal is not None:
            self._journaled.extend(self.journal.append(rows))
        self.buffer.extend(rows)
        self.maybe_flush()

    def maybe_flush(self) -> None:
        due = self.clock() - self._last_flush >= self.flush_seconds
        if len(self.buffer) >= max(1, self.flush_every) or (self.buffer and due):
            self.flush()

    def flush(self) -> None:
        self._last_flush = self.clock()
        if not self.buffer:
            return
        rows, self.buffer = self.buffer, []
        seqs, self._journaled = self._journaled, []
        try:
            self.warehouse.dlt_run(PIPELINE, RAW_ENRICHMENT, title_enrichments_resource(rows))
        except BaseException:
            self.buffer = rows + self.buffer  # not written: keep them for the next attempt
            self._journaled = seqs + self._journaled
            raise
        if self.journal is not None:
            self.journal.discard(seqs)
        self.written += len(rows)
        self.flushes += 1
        if self.on_flush:
            self.on_flush(len(rows))
