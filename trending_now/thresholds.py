"""Abnormal-day thresholds: a step can succeed and still say the day is not fit to publish.

``run_steps`` checks each step's result against these rules right after the step; a breach fails the
step (and so the run) with one line naming the figure, the threshold and the setting that holds it. The
good rows of the day stay loaded; nothing is published from an abnormal day. The enrichment coverage
threshold lives with the enricher (``quality.min_enrichment_coverage``), which knows what was pending.
"""

from __future__ import annotations

from collections.abc import Callable

from core.config import Settings
from core.context import StepResult


class ThresholdBreached(RuntimeError):
    """A step's figures are outside a configured threshold; ``result`` keeps what the step did."""

    def __init__(self, message: str, result: StepResult) -> None:
        super().__init__(message)
        self.result = result


def _quarantine_share(result: StepResult, settings: Settings, what: str) -> str | None:
    limit = float(settings.get("quality.max_quarantine_share"))
    seen = result.rows_out + result.quarantined
    if not seen or result.quarantined / seen <= limit:
        return None
    return (
        f"{result.quarantined} of {seen} {what} ({result.quarantined / seen:.0%}) went to quarantine, above "
        f"quality.max_quarantine_share {limit:.0%}; their reasons are in the quarantine table"
    )


def _titles(result: StepResult, settings: Settings) -> str | None:
    floor = int(settings.get("quality.min_titles"))
    if result.rows_out >= floor:
        return None
    return (
        f"{result.rows_out} title(s) listed as new in the window, below quality.min_titles {floor}: "
        "check the JustWatch source (country, packages, object types) before trusting an empty day"
    )


def _release_quarantine(result: StepResult, settings: Settings) -> str | None:
    return _quarantine_share(result, settings, "JustWatch records")


RULES: dict[str, tuple[Callable[[StepResult, Settings], str | None], ...]] = {
    "extract_releases": (_titles, _release_quarantine),
}
# Reviews have no share rule: a review site that answers garbage is quarantined per title and source and
# the day goes on (reviews enrich a title, they do not make it); a credential or block problem stops that
# source for the run with its own line (extract/reviews).


def check(step: str, result: StepResult, settings: Settings) -> None:
    """Raise :class:`ThresholdBreached` with every breached rule of ``step``, joined on one line."""
    problems = [message for rule in RULES.get(step, ()) if (message := rule(result, settings))]
    if problems:
        raise ThresholdBreached("; ".join(problems), result)
