"""The transform steps: dbt before and after the enrichment, and the JustWatch source's freshness check.

What each step selects, and the dbt invocation itself, are :mod:`core.dbt_runner`'s (publishing, after the
gate, builds through it too: ``publish.step.publish_mart``).
"""

from __future__ import annotations

from collections.abc import Sequence

from core.context import RunContext, StepResult
from core.dbt_runner import SELECT_BEFORE_ENRICH, SELECT_MARTS, SELECT_TITLES, build, invoke
from core.environ import environ

# `dbt source freshness --select source:justwatch`: a JustWatch source older than its error_after (the newest
# node 50 hours old, _justwatch__sources.yml) fails the run; a warn_after (26 hours) only warns.
SELECT_FRESHNESS = ["source:justwatch"]


def check_freshness(ctx: RunContext, select: Sequence[str] = tuple(SELECT_FRESHNESS)) -> StepResult:
    """``dbt source freshness --select <select>``; raise :class:`DbtError` naming each stale source table."""
    ctx.progress(f"dbt source freshness --select {' '.join(select)}")
    result = invoke(ctx, ["source", "freshness", "--select", *select])
    statuses: dict[str, str] = {}
    for node_result in getattr(result.result, "results", None) or []:
        node = node_result.node
        if str(getattr(node, "resource_type", "")) == "source":  # not the on-run-start hook
            statuses[f"{node.source_name}.{node.name}"] = str(node_result.status).lower()
    return StepResult(step="check_freshness", rows_out=len(statuses), details={"freshness": statuses})


def build_before_enrich(ctx: RunContext) -> StepResult:
    return build(ctx, SELECT_BEFORE_ENRICH, "dbt_staging_intermediate")


def build_titles(ctx: RunContext) -> StepResult:
    # cautious: only tests whose every parent is selected (a relationships test to an unselected model waits)
    with environ({"DBT_INDIRECT_SELECTION": "cautious"}):
        return build(ctx, SELECT_TITLES, "dbt_titles")


def build_marts(ctx: RunContext) -> StepResult:
    return build(ctx, SELECT_MARTS, "dbt_marts")
