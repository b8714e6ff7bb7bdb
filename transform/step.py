"""The transform steps: dbt before and after the enrichment, and the JustWatch source's freshness check.

What each step selects, and the dbt invocation itself, are :mod:`core.dbt_runner`'s (publishing, after the
gate, builds through it too: ``publish.step.publish_mart``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from core import step_names
from core.context import RunContext, StepResult
from core.dbt_runner import SELECT_BEFORE_ENRICH, SELECT_MARTS, SELECT_TITLES, DbtError, build, invoke
from core.environ import environ

# `dbt source freshness --select source:justwatch`: a JustWatch source older than its error_after (the newest
# node 50 hours old, _justwatch__sources.yml) fails the run; a warn_after (26 hours) only warns.
SELECT_FRESHNESS = ["source:justwatch"]


def check_freshness(ctx: RunContext, select: Sequence[str] = tuple(SELECT_FRESHNESS)) -> StepResult:
    """``dbt source freshness --select <select>``; raise :class:`DbtError` naming each stale source table and the
    age of each country's newest node (the titles' freshness is that of the stalest country)."""
    ctx.progress(f"dbt source freshness --select {' '.join(select)}")
    try:
        result = invoke(ctx, ["source", "freshness", "--select", *select])
    except DbtError as exc:
        raise DbtError(f"{exc}; {newest_per_country(ctx)}") from exc
    statuses: dict[str, str] = {}
    for node_result in getattr(result.result, "results", None) or []:
        node = node_result.node
        if str(getattr(node, "resource_type", "")) == "source":  # not the on-run-start hook
            statuses[f"{node.source_name}.{node.name}"] = str(node_result.status).lower()
    return StepResult(
        step=step_names.CHECK_FRESHNESS, rows_out=len(statuses), details={"freshness": statuses}
    )


def newest_per_country(ctx: RunContext) -> str:
    """``newest node per country: US 1 h old, GB 70 h old, DE none``: which of the run's countries is stale."""
    from core.raw_spec import TITLES

    try:
        rows = ctx.warehouse.fetch_all(
            f"select country, max(extracted_at) as newest from {TITLES.relation} group by country"  # nosec B608  # noqa: S608 - constant identifiers: the raw-table contract
        )
    except Exception as exc:  # the freshness failure is the error; this only explains it
        return f"newest node per country unknown ({type(exc).__name__})"
    newest = {str(r["country"]): r["newest"] for r in rows}
    now = datetime.now(UTC)

    def age(country: str) -> str:
        value = newest.get(country)
        if value is None:
            return f"{country} none"
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return f"{country} {(now - value).total_seconds() / 3600:.0f} h old"

    return "newest node per country: " + ", ".join(age(c) for c in ctx.country_codes)


def build_before_enrich(ctx: RunContext) -> StepResult:
    return build(ctx, SELECT_BEFORE_ENRICH, step_names.DBT_STAGING_INTERMEDIATE)


def build_titles(ctx: RunContext) -> StepResult:
    # cautious: only tests whose every parent is selected (a relationships test to an unselected model waits)
    with environ({"DBT_INDIRECT_SELECTION": "cautious"}):
        return build(ctx, SELECT_TITLES, step_names.DBT_TITLES)


def build_marts(ctx: RunContext) -> StepResult:
    return build(ctx, SELECT_MARTS, step_names.DBT_MARTS)
