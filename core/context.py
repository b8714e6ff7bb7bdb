"""What every step receives (:class:`RunContext`) and returns (:class:`StepResult`)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from core.config import Settings
from core.countries import SETTING as COUNTRIES_SETTING
from core.countries import configured_countries, parse_countries
from core.warehouse import Warehouse, configure_dlt


@dataclass(frozen=True)
class LlmUsage:
    """What a step's LLM calls used: ``ops.pipeline_runs``' llm_calls, tokens_in, tokens_out and cost_usd."""

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


@dataclass
class StepResult:
    """Counters one step reports; they become one row of ``ops.pipeline_runs``."""

    step: str
    rows_in: int = 0
    rows_out: int = 0
    quarantined: int = 0
    llm: LlmUsage = field(default_factory=LlmUsage)  # zeros for a step that calls no LLM
    cache_hits: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    # Parts that failed while the rest loaded (a country -> its cause): the run goes on with the parts that
    # succeeded (they are published) and fails after its last step, naming these.
    failed_parts: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunContext:
    settings: Settings
    as_of: date
    days: int = 7
    # The run's countries: None reads run.countries; a list or "US,GB" (CLI, DAG param) overrides it in the
    # settings, so everything downstream (dbt's primary country too) reads one value. Validated here, before
    # any request: an unknown code fails with one line.
    countries: Sequence[str] | str | None = None
    limit: int | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    quiet: bool = False
    # The run's warehouse, built once from the run's settings (countries included: dbt reads them from it).
    warehouse: Warehouse = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.countries is not None:
            codes = parse_countries(self.countries, where="country")
            self.settings = self.settings.with_overrides({COUNTRIES_SETTING: list(codes)})
        self.countries = configured_countries(self.settings)
        self.warehouse = Warehouse(self.settings)
        configure_dlt()  # before any step touches dlt

    @property
    def country_codes(self) -> tuple[str, ...]:
        """The run's countries, validated, primary country first."""
        return tuple(self.countries or ())

    @property
    def window(self) -> list[date]:
        """The days of the window, oldest first, ending at ``as_of``."""
        return [self.as_of - timedelta(days=offset) for offset in range(self.days - 1, -1, -1)]

    @property
    def window_start(self) -> date:
        return self.as_of - timedelta(days=self.days - 1)

    def progress(self, message: str) -> None:
        """Progress lines go to stderr so ``report --json`` on stdout stays machine-readable."""
        if not self.quiet:
            print(f"  · {message}", file=sys.stderr, flush=True)
