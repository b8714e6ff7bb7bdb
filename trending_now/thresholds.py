"""Abnormal-day thresholds: a step can succeed and still say the day is not fit to publish.

``run_steps`` checks each step's result against these rules right after the step (the JustWatch rules per
country, a breach naming its country); a breach fails the
step (and so the run) with one line naming the figure, the threshold and the setting that holds it. The
good rows of the day stay loaded; nothing is published from an abnormal day. The enrichment coverage
threshold lives with the enricher (``quality.min_enrichment_coverage``), which knows what was pending.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.config import Settings
from core.context import StepResult


class ThresholdBreached(RuntimeError):
    """A step's figures are outside a configured threshold; ``result`` keeps what the step did."""

    def __init__(self, message: str, result: StepResult) -> None:
        super().__init__(message)
        self.result = result


def _share_breach(kept: int, quarantined: int, settings: Settings, what: str) -> str | None:
    limit = float(settings.get("quality.max_quarantine_share"))
    seen = kept + quarantined
    if not seen or quarantined / seen <= limit:
        return None
    return (
        f"{quarantined} of {seen} {what} ({quarantined / seen:.0%}) went to quarantine, above "
        f"quality.max_quarantine_share {limit:.0%}; their reasons are in the quarantine table"
    )


def _per_country(result: StepResult) -> dict[str, dict[str, int]]:
    """``{country: {titles, quarantined}}`` of the JustWatch step (the whole result when it has no split).

    Whole records count against the share; list items left out of a loaded record do not (the record loads).
    """
    countries = result.details.get("countries")
    if not isinstance(countries, dict):
        return {"": {"titles": result.rows_out, "quarantined": result.quarantined}}
    return {
        country: {"titles": int(d.get("titles", 0)), "quarantined": int(d.get("quarantined_records", 0))}
        for country, d in countries.items()
    }


def _label(country: str) -> str:
    return f"{country}: " if country else ""


def _titles(result: StepResult, settings: Settings) -> str | None:
    floor = int(settings.get("quality.min_titles"))
    problems = [
        f"{_label(country)}{d['titles']} title(s) listed as new in the window, below quality.min_titles {floor}: "
        "check the JustWatch source (country, packages, object types) before trusting an empty day"
        for country, d in _per_country(result).items()
        if d["titles"] < floor
    ]
    return "; ".join(problems) or None


def _release_quarantine(result: StepResult, settings: Settings) -> str | None:
    problems = [
        f"{_label(country)}{message}"
        for country, d in _per_country(result).items()
        if (message := _share_breach(d["titles"], d["quarantined"], settings, "JustWatch records"))
    ]
    return "; ".join(problems) or None


Rule = Callable[[StepResult, Settings], str | None]  # the breach's one line, or None
RELEASE_RULES: tuple[Rule, ...] = (
    _titles,
    _release_quarantine,
)  # the extract_releases step's (pipeline.STEPS)
# Reviews have no share rule: a review site that answers garbage is quarantined per title and source and
# the day goes on (reviews enrich a title, they do not make it); a credential or block problem stops that
# source for the run with its own line (extract/reviews).


def check(rules: Sequence[Rule], result: StepResult, settings: Settings) -> None:
    """Raise :class:`ThresholdBreached` with every breached rule of a step (``Step.checks``), joined on one line."""
    problems = [message for rule in rules if (message := rule(result, settings))]
    if problems:
        raise ThresholdBreached("; ".join(problems), result)
