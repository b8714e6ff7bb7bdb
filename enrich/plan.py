"""What an enrichment run is about to do and cost, before it spends (``trending-now enrich --plan``).

The pending titles (no ``ok`` row for their ``(id, source_data_hash, prompt_version, model)``) split into:
new titles, titles whose sources changed, and titles enriched before under another prompt version or model
that a version change re-enriches. The cost is estimated at the configured prices (``enrich.price_*``): the
prompt tokens as the budget estimates them (characters / 4, the system instruction included in every call),
the output tokens as the mean of what this model returned so far (and at most ``enrich.max_output_tokens``).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from core.config import Settings
from core.warehouse import RAW_ENRICHMENT, Warehouse
from enrich.inputs import InputError, TitleInput, parse_input_row
from enrich.prompt import PROMPT_VERSION, SYSTEM_INSTRUCTION, build_prompt
from enrich.store import TABLE, PendingWork, load_pending

CHARS_PER_TOKEN = 4  # the estimate the Gemini provider's budget reservation uses


@dataclass(frozen=True)
class Prices:
    input_per_mtok: float
    output_per_mtok: float
    max_output_tokens: int
    mode: str  # enrich.mode: a batch is billed at enrich.batch.price_factor of the interactive prices

    @classmethod
    def from_settings(cls, settings: Settings) -> Prices:
        enrich = settings.typed.enrich
        factor = enrich.batch.price_factor if enrich.mode == "batch" else 1.0
        return cls(
            enrich.price_input_per_mtok * factor,
            enrich.price_output_per_mtok * factor,
            enrich.max_output_tokens,
            enrich.mode,
        )

    def cost(self, input_tokens: float, output_tokens: float) -> float:
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


@dataclass
class EnrichPlan:
    provider: str
    model: str
    prompt_version: str
    total_inputs: int
    new: int = 0
    changed_sources: int = 0
    re_enrich: Counter[str] = field(default_factory=Counter)  # "prompt v1, model m" -> titles
    calls: int = 0
    input_tokens: int = 0
    mean_output_tokens: float | None = None  # what this model returned per title so far
    prices: Prices | None = None

    @property
    def pending(self) -> int:
        return self.new + self.changed_sources + sum(self.re_enrich.values())

    def cost(self, output_tokens_per_title: float) -> float:
        """At the configured (Gemini) prices, whichever provider runs."""
        if self.prices is None:
            return 0.0
        return self.prices.cost(self.input_tokens, output_tokens_per_title * self.pending)

    def lines(self) -> list[str]:
        """The plan as the CLI and the run's first progress lines print it."""
        redo = sum(self.re_enrich.values())
        lines = [
            f"enrich plan: {self.pending} of {self.total_inputs} titles to enrich with {self.provider}/{self.model} "
            f"prompt {self.prompt_version}",
            f"  {self.new} new, {self.changed_sources} with changed sources, {redo} re-enriched after a prompt "
            "or model change",
        ]
        lines += [f"  re-enrich {n} enriched under {label}" for label, n in self.re_enrich.most_common()]
        if self.prices is None or not self.pending:
            return lines
        most = self.cost(self.prices.max_output_tokens)
        if self.provider == "heuristic":
            lines.append(
                f"  cost $0 (heuristic provider); with Gemini at the configured prices at most ${most:.4f}"
            )
            return lines
        expected = (
            f"about ${self.cost(self.mean_output_tokens):.4f} (output {self.mean_output_tokens:.0f} tokens/title "
            "as this model answered so far), "
            if self.mean_output_tokens
            else ""
        )
        lines.append(
            f"  cost at ${self.prices.input_per_mtok:g}/${self.prices.output_per_mtok:g} per M tokens in/out "
            f"({self.prices.mode} prices): "
            f"{expected}at most ${most:.4f} ({self.calls} calls, ~{self.input_tokens:,} prompt tokens, "
            f"{self.prices.max_output_tokens} output tokens/title at most); enrich.max_cost_usd caps the run"
        )
        return lines


def _ok_rows(warehouse: Warehouse) -> list[dict[str, Any]]:
    if not warehouse.table_exists(RAW_ENRICHMENT, TABLE):
        return []
    return warehouse.fetch_all(
        f"select id, source_data_hash, prompt_version, model, output_tokens from {RAW_ENRICHMENT}.{TABLE} "  # nosec B608  # noqa: S608 - constant identifiers: warehouse, raw_spec
        "where status = 'ok'"
    )


def _mean_output(rows: list[dict[str, Any]], model: str) -> float | None:
    tokens = [int(r["output_tokens"]) for r in rows if r["model"] == model and (r["output_tokens"] or 0) > 0]
    return sum(tokens) / len(tokens) if tokens else None


def prompt_tokens(titles: list[TitleInput], batch_size: int) -> tuple[int, int]:
    """(calls, prompt tokens) for enriching ``titles`` ``batch_size`` per call, by the budget's estimate."""
    calls = tokens = 0
    for start in range(0, len(titles), max(1, batch_size)):
        chars = len(SYSTEM_INSTRUCTION) + len(build_prompt(titles[start : start + batch_size]))
        tokens += math.ceil(chars / CHARS_PER_TOKEN)
        calls += 1
    return calls, tokens


def make_plan(
    warehouse: Warehouse, settings: Settings, provider: str, model: str, work: PendingWork | None = None
) -> EnrichPlan:
    """Classify the pending titles (``work``, else read now) and estimate their cost; reads the warehouse only."""
    work = work or load_pending(warehouse, PROMPT_VERSION, model)
    ok = _ok_rows(warehouse)
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    seen_ids = set()
    for row in ok:
        by_key.setdefault((row["id"], row["source_data_hash"]), []).append(row)
        seen_ids.add(row["id"])
    plan = EnrichPlan(
        provider, model, PROMPT_VERSION, work.total_inputs, prices=Prices.from_settings(settings)
    )
    titles: list[TitleInput] = []
    for raw in work.rows:
        earlier = by_key.get((raw["id"], raw["source_data_hash"]))
        if earlier:
            latest = max(earlier, key=lambda r: (r["prompt_version"], r["model"]))
            plan.re_enrich[f"prompt {latest['prompt_version']}, model {latest['model']}"] += 1
        elif raw["id"] in seen_ids:
            plan.changed_sources += 1
        else:
            plan.new += 1
        try:
            titles.append(parse_input_row(raw))
        except InputError:
            continue  # the run stores it failed without a call
    plan.calls, plan.input_tokens = prompt_tokens(titles, settings.typed.enrich.batch_size)
    plan.mean_output_tokens = _mean_output(ok, model)
    return plan
