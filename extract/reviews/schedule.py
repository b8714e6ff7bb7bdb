"""What is due today, and how many requests each source may still make today.

**Refresh schedule.** A title is fetched from a source when it is first seen (new in the run's window),
then again ``reviews.refresh_days`` days after that first fetch (default 1, 3, 7, 14 and 30;
``reviews.<source>.refresh_days`` per source: 3 and 10 for the critics' sites), not every day it sits in
the window. The state is ``raw_reviews.review_fetches`` (``first_fetched_on``,
``last_fetched_on``, ``fetch_count``, ``status``, in run days), so any worker computes the same plan.
A fetch the budget could not pay for writes no state, so the title stays due and carries over. A source
whose review never changes once found (``refresh_after_found: false``, RogerEbert.com) is not refreshed
after it. A title listed as new again after its schedule ended (a new season) starts a new one. A fetch
that failed (``error``) is retried by a re-run of the same day (``retry``), so fixing a source and running
the day again converges; across days, errors wait for the next scheduled refresh.

**Daily budgets.** ``reviews.<source>.daily_budget`` caps the requests (retries and robots.txt included)
one source gets per day, across every run of that day and every country (a title is reviewed once however
many countries list it; when the budget is short, titles listed in more countries go first). The ledger is ``ops.review_request_budget``
(one row per day and source): a run reserves what it may need before its first request and writes what
it really used at the end, so a crashed run still counts against the day, and the HTTP client refuses
the request past the reservation. The day is the UTC date (the services' quota day), or the run's
``as_of`` with ``reviews.budget_day: as_of`` (simulations and benchmarks of many days in one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from core import raw_spec
from core.dbt_relations import relation
from core.warehouse import OPS, RAW_REVIEWS, Warehouse
from extract.reviews.settings import REQUESTS_PER_FETCH, SOURCES, ReviewsSettings

SUBJECTS_RELATION = str(relation("int_review_subjects_listed"))
LEDGER = raw_spec.REVIEW_REQUEST_BUDGET.relation
LEDGER_DDL = raw_spec.state_table_ddl(raw_spec.REVIEW_REQUEST_BUDGET)
STATE_COLUMNS = ("title_id", "source", "status", "first_fetched_on", "last_fetched_on", "fetch_count")


@dataclass(frozen=True)
class FetchState:
    """The last outcome of one (title, source), as far as the schedule is concerned."""

    status: str | None
    first_fetched_on: date | None
    last_fetched_on: date | None
    fetch_count: int = 0


def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class Day:
    """The day being planned: ``as_of``, the first day of the listing window, the schedule's settings."""

    as_of: date
    window_start: date
    settings: ReviewsSettings

    def in_window(self, listed: date | None) -> bool:
        return listed is not None and self.window_start <= listed <= self.as_of


def _relisted(state: FetchState, last_listed_on: date | None, horizon: int) -> bool:
    """Listed as new again (a new season) after the title's refresh schedule ended."""
    first = state.first_fetched_on
    return (
        first is not None and last_listed_on is not None and last_listed_on > first + timedelta(days=horizon)
    )


def _refresh_due(source: str, state: FetchState, day: Day) -> bool:
    """A refresh day of ``source`` passed since the last fetch."""
    first = state.first_fetched_on or day.as_of
    age = (day.as_of - first).days
    done = ((state.last_fetched_on or first) - first).days
    return any(done < n <= age for n in day.settings.refresh_days_for(source))


def due_reason(source: str, state: FetchState | None, last_listed_on: date | None, day: Day) -> str | None:
    """``"new"``, ``"refresh"``, ``"retry"`` or None (not due) for one title and source on ``day``."""
    in_window = day.in_window(last_listed_on)
    if state is None or state.first_fetched_on is None:
        return "new" if in_window else None
    if in_window and _relisted(state, last_listed_on, day.settings.refresh_horizon):
        return "new"
    return _again_reason(source, state, day)


def _again_reason(source: str, state: FetchState, day: Day) -> str | None:
    """Why a title fetched before is fetched again today: ``"retry"``, ``"refresh"`` or None."""
    if state.status == "error" and state.last_fetched_on == day.as_of:
        return "retry"
    if state.status == "ok" and not day.settings.refreshes_after_found(source):
        return None
    return "refresh" if _refresh_due(source, state, day) else None


@dataclass
class Planned:
    """One title with the sources due for it today (``reasons``: source -> new/refresh)."""

    row: dict[str, Any]
    reasons: dict[str, str]


def priority_key(row: Mapping[str, Any]) -> tuple:
    """Titles listed in more countries first (a budget is global: one fetch serves every country), then the
    newest listing, then the most popular (IMDb score as the proxy raw data carries), then id."""
    countries = int(row.get("countries_listed") or 1)
    listed = _as_date(row.get("last_listed_on")) or date.min
    score = row.get("imdb_score")
    return (
        -countries,
        -listed.toordinal(),
        -(float(score) if score is not None else -1.0),
        str(row.get("title_id")),
    )


def plan(
    rows: Iterable[Mapping[str, Any]],
    states: Mapping[tuple[str, str], FetchState],
    day: Day,
    sources: Sequence[str] = SOURCES,
) -> list[Planned]:
    """The titles with at least one due source, in priority order."""
    planned = []
    for row in sorted(rows, key=priority_key):
        title_id = str(row["title_id"])
        listed = _as_date(row.get("last_listed_on"))
        found = {
            source: due_reason(source, states.get((title_id, source)), listed, day) for source in sources
        }
        reasons = {source: reason for source, reason in found.items() if reason}
        if reasons:
            planned.append(Planned(dict(row), reasons))
    return planned


# ---- warehouse reads ------------------------------------------------------------------------------------
def _columns(warehouse: Warehouse, schema: str, table: str) -> set[str]:
    return {
        r["column_name"]
        for r in warehouse.fetch_all(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, table],
        )
    }


def read_candidates(warehouse: Warehouse, since: date) -> list[dict[str, Any]]:
    """Folded titles (the dbt model) last listed on or after ``since``."""
    return warehouse.fetch_all(
        "select title_id, subject_type, title, release_year, tmdb_id, imdb_id, imdb_score, last_listed_on, "
        "countries_listed "  # nosec B608  # noqa: S608 - constant identifiers: SUBJECTS_RELATION (dbt_relations)
        f"from {SUBJECTS_RELATION} where last_listed_on >= ? order by title_id",
        [since],
    )


def read_states(warehouse: Warehouse, since: date) -> dict[tuple[str, str], FetchState]:
    """Schedule state of the candidates' fetches; {} before the first load."""
    if not warehouse.table_exists(RAW_REVIEWS, "review_fetches"):
        return {}
    present = _columns(warehouse, RAW_REVIEWS, "review_fetches")
    select = ", ".join(c if c in present else f"null as {c}" for c in STATE_COLUMNS)
    rows = warehouse.fetch_all(
        f"select {select} from {RAW_REVIEWS}.review_fetches "  # nosec B608  # noqa: S608 - constant identifiers: RAW_REVIEWS (warehouse), SUBJECTS_RELATION; STATE_COLUMNS
        f"where title_id in (select title_id from {SUBJECTS_RELATION} where last_listed_on >= ?)",
        [since],
    )
    return {
        (str(r["title_id"]), str(r["source"])): FetchState(
            status=r["status"],
            first_fetched_on=_as_date(r["first_fetched_on"]),
            last_fetched_on=_as_date(r["last_fetched_on"]),
            fetch_count=int(r["fetch_count"] or 0),
        )
        for r in rows
    }


# ---- the daily budget ledger ----------------------------------------------------------------------------
def budget_day(settings: ReviewsSettings, as_of: date) -> date:
    return as_of if settings.budget_day == "as_of" else datetime.now(UTC).date()


def used_on(warehouse: Warehouse, day: date) -> dict[str, int]:
    """Requests each source has used (or reserved) on ``day`` across earlier runs."""
    if not warehouse.table_exists(OPS, "review_request_budget"):
        return {}
    rows = warehouse.fetch_all(f"select source, requests from {LEDGER} where day = ?", [day])  # nosec B608  # noqa: S608 - constant identifiers: LEDGER (raw_spec)
    return {str(r["source"]): int(r["requests"] or 0) for r in rows}


def write_used(warehouse: Warehouse, day: date, used: Mapping[str, int]) -> None:
    """Set the ledger of ``day`` to ``used`` (absolute values) in one transaction."""
    markers = warehouse._paramstyle
    now = datetime.now(UTC).replace(tzinfo=None)
    with warehouse.connect() as conn:
        cur = conn.cursor()
        cur.execute(f"create schema if not exists {OPS}")
        cur.execute(LEDGER_DDL)
        for source, requests in sorted(used.items()):
            cur.execute(markers(f"delete from {LEDGER} where day = ? and source = ?"), [day, source])  # nosec B608  # noqa: S608 - constant identifiers: LEDGER (raw_spec)
            cur.execute(
                markers(f"insert into {LEDGER} (day, source, requests, updated_at) values (?, ?, ?, ?)"),  # nosec B608  # noqa: S608 - constant identifiers: LEDGER (raw_spec)
                [day, source, int(requests), now],
            )


def reservation(
    settings: ReviewsSettings, remaining: Mapping[str, int], due: Mapping[str, int]
) -> dict[str, int]:
    """Requests to reserve per source: what ``due`` fetches could cost (retries included), within the budget."""
    out = {}
    for source, fetches in due.items():
        if not fetches:
            out[source] = 0
            continue
        need = fetches * REQUESTS_PER_FETCH.get(source, 1) * (1 + settings.max_retries) + 1  # + robots.txt
        out[source] = max(0, min(int(remaining.get(source, 0)), need))
    return out
