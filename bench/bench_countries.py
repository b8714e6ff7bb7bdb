"""Countries benchmark: the whole `trending-now run` for 1, 5 and 20 countries on the same dates (DuckDB).

    .venv/bin/python bench/bench_countries.py [--titles 120] [--countries 1,5,20] [--repeat 3] [--jw-latency-ms 150]

Each run, in a throw-away project root, lists the same window (7 days ending 2026-11-20) against the local
fakes served as real HTTP servers on 127.0.0.1: JustWatch GraphQL (tests/fakes/justwatch_server.py, one
catalogue per country: the first country lists every title, each other country about 70% of them with its
own paths and currency, so every run has the same unique titles), the review sites (tests/fakes/
review_sites.py, reviews for a fraction of the titles) and Gemini (tests/fakes/gemini_server.py, through the
google-genai SDK). ``python -m trending_now run --country …`` runs in a subprocess.

Every country count runs ``--repeat`` times (default 3), the counts interleaved (1, 5, 20, 1, 5, 20, …) so a
drift of the shared machine's load falls on every count alike; each row is the median of its runs, figure by
figure. Reported per row: listings (title rows across countries), unique titles (published mart rows), LLM calls and
calls per unique title (must be 1.00: a title listed in many countries is enriched once), review requests
(every source, robots.txt and retries included), JustWatch requests, the extract step's time and the run's
wall time. Claims (asserted): calls per unique title 1.00 in every run, review requests the same in every
run, the 5-country median wall time at most 2.0x the 1-country median and the 20-country one at most 4x.
Prints a Markdown table and writes bench/results/countries.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import write_result  # noqa: E402
from bench_pipeline import (  # noqa: E402
    Catalogue,
    DayRun,
    child_env,
    fake_overrides,
    make_project,
    progress,
    require,
    run_day,
    seed_reviews,
)

from core.countries import JUSTWATCH_COUNTRIES  # noqa: E402
from tests.fakes.gemini_server import FakeGemini  # noqa: E402
from tests.fakes.justwatch_server import FakeJustWatch, edge_for, synthetic_specs  # noqa: E402
from tests.fakes.review_sites import ReviewSites  # noqa: E402

AS_OF = date(2026, 11, 20)
DAYS = 7
FIRST_COUNTRIES = ("US", "GB", "DE", "FR", "CA")
LIMITS = {5: 2.0, 20: 4.0}  # the wall-time ratio each country count may reach against the 1-country run
LISTED_SHARE = 7  # every country but the first lists 7 of every 10 titles


def country_list(count: int) -> list[str]:
    rest = sorted(JUSTWATCH_COUNTRIES - set(FIRST_COUNTRIES))
    return [*FIRST_COUNTRIES, *rest][:count]


class CountriesJustWatch(FakeJustWatch):
    """The JustWatch fake with one catalogue per country and a fixed server-side delay per page."""

    def __init__(self, by_country: dict[str, dict[str, list[dict]]], latency_s: float) -> None:
        super().__init__({}, by_country=by_country)
        self.latency_s = latency_s

    def page(self, variables: dict[str, Any]) -> dict[str, Any]:
        time.sleep(self.latency_s)
        return super().page(variables)


def build_catalogues(n: int, countries: list[str], review_fraction: float) -> tuple[Catalogue, dict]:
    """The titles (reviews seeded for a fraction of them) and, per country, the edges it lists per day."""
    days = [AS_OF - timedelta(days=k) for k in range(DAYS - 1, -1, -1)]
    specs = synthetic_specs(n)
    by_country: dict[str, dict[str, list[dict]]] = {}
    for rank, country in enumerate(countries):
        edges: dict[str, list[dict]] = {d.isoformat(): [] for d in days}
        for i, spec in enumerate(specs):
            if rank and (i + rank) % 10 >= LISTED_SHARE:
                continue  # not listed in this country
            day = days[i % len(days)].isoformat()
            edges[day].append(edge_for(spec, day, country))
        by_country[country] = edges
    stride = max(1, round(1 / review_fraction)) if review_fraction > 0 else 0
    reviewed = list(range(0, n, stride)) if stride else []
    return Catalogue(specs, by_country[countries[0]], reviewed), by_country


@dataclass
class CountriesRun:
    """One ``trending-now run`` of ``countries`` countries and what the fakes counted."""

    countries: int
    run: DayRun
    jw_requests: int

    def details(self, step: str) -> dict[str, Any]:
        raw = self.run.steps.get(step, {}).get("details") or "{}"
        return json.loads(raw) if isinstance(raw, str) else dict(raw)

    def figures(self) -> dict[str, float]:
        """Every figure a row reports, by name."""
        sources = self.details("extract_reviews").get("sources") or {}
        return {
            "listings": int(self.run.steps["extract_releases"]["rows_out"]),
            "unique_titles": len(self.run.mart),
            "llm_calls": int(self.run.total("llm_calls")),
            "review_requests": sum(int(s.get("requests") or 0) for s in sources.values()),
            "jw_requests": self.jw_requests,
            "extract_s": float(self.run.steps["extract_releases"]["duration_s"] or 0),
            "wall_s": self.run.wall_s,
        }


@dataclass
class CountriesResult:
    """The runs of one country count; each figure is the median over them."""

    countries: int
    runs: list[CountriesRun]

    def median(self, name: str) -> float:
        return statistics.median(r.figures()[name] for r in self.runs)

    def spread(self, name: str) -> tuple[float, float]:
        values = [r.figures()[name] for r in self.runs]
        return min(values), max(values)


def bench_countries(count: int, args: argparse.Namespace, work: Path, attempt: int = 1) -> CountriesRun:
    base = work / f"c{count}-{attempt}"
    base.mkdir()
    root = make_project(base)
    countries = country_list(count)
    catalogue, by_country = build_catalogues(args.titles, countries, args.review_fraction)
    with (
        CountriesJustWatch(by_country, args.jw_latency_ms / 1000) as jw,
        ReviewSites(latency_s=args.review_latency_ms / 1000) as sites,
        FakeGemini(latency_s=args.llm_latency_ms / 1000) as gemini,
    ):
        seed_reviews(sites, catalogue)
        env = child_env(
            base,
            root,
            {
                **fake_overrides(jw, sites, gemini, args),
                "RUN__COUNTRIES": ",".join(countries),
                "REVIEWS__BUDGET_DAY": "as_of",
            },
        )
        progress(f"{count} countr{'y' if count == 1 else 'ies'} (run {attempt}): {','.join(countries)}")
        run = run_day(f"countries{count}", base, env)
        result = CountriesRun(count, run, jw.total_requests)
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return result


def table(results: list[CountriesResult]) -> str:
    one = results[0]
    lines = [
        "| countries | runs | listings | unique titles | LLM calls | LLM calls / unique title | review requests | "
        "JustWatch requests | extract_releases s | wall s (min–max) | wall vs 1 country |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        m = r.median
        low, high = r.spread("wall_s")
        lines.append(
            f"| {r.countries} | {len(r.runs)} | {m('listings'):,.0f} | {m('unique_titles'):,.0f} | "
            f"{m('llm_calls'):,.0f} | {m('llm_calls') / max(1, m('unique_titles')):.2f} | "
            f"{m('review_requests'):,.0f} | {m('jw_requests'):,.0f} | {m('extract_s'):.1f} | "
            f"{m('wall_s'):.1f} ({low:.1f}–{high:.1f}) | {m('wall_s') / one.median('wall_s'):.2f}x |"
        )
    return "\n".join(lines)


def check(results: list[CountriesResult]) -> None:
    one = results[0].runs[0].figures()
    for result in results:
        for run in result.runs:
            r = run.figures()
            require(
                r["llm_calls"] == r["unique_titles"],
                f"{run.countries} countries: {r['llm_calls']} LLM calls for "
                f"{r['unique_titles']} unique titles (one per title expected)",
            )
            require(
                r["review_requests"] == one["review_requests"],
                f"{run.countries} countries: {r['review_requests']} review "
                f"requests, {one['review_requests']} with one country (reviews are per title, not per listing)",
            )
        limit = LIMITS.get(result.countries)
        if limit is not None:
            ratio = result.median("wall_s") / results[0].median("wall_s")
            require(
                ratio <= limit,
                f"{result.countries} countries took {ratio:.2f}x the 1-country run (medians; limit {limit}x)",
            )


def load_note() -> str:
    """The 1-, 5- and 15-minute load averages, as the results note reports them."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--titles", type=int, default=120, help="unique titles in the window (default 120)")
    parser.add_argument("--countries", default="1,5,20", help="country counts to run (default 1,5,20)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per country count; rows are medians (default 3)"
    )
    parser.add_argument("--review-fraction", type=float, default=0.25)
    parser.add_argument("--jw-latency-ms", type=float, default=150.0, help="JustWatch delay per page")
    parser.add_argument("--review-latency-ms", type=float, default=20.0)
    parser.add_argument("--llm-latency-ms", type=float, default=200.0)
    parser.add_argument("--reviews-concurrency", type=int, default=8)
    parser.add_argument("--enrich-concurrency", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    parser.add_argument(
        "--out", type=Path, default=None, help="result file (default bench/results/countries.md)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    counts = [int(c) for c in args.countries.split(",")]
    require(counts[0] == 1, "the first country count must be 1 (the baseline)")
    require(args.repeat >= 1, "--repeat must be at least 1")
    work = Path(tempfile.mkdtemp(prefix="bench-countries-"))
    load_before = load_note()
    try:
        runs = [  # interleaved: a drift of the machine's load falls on every count alike
            bench_countries(count, args, work, attempt)
            for attempt in range(1, args.repeat + 1)
            for count in counts
        ]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    load_after = load_note()
    results = [CountriesResult(count, [r for r in runs if r.countries == count]) for count in counts]
    table_md = table(results)
    print(table_md)
    check(results)
    notes = (
        f"{args.titles} unique titles over {DAYS} days ending {AS_OF}; the first country lists all of them, every "
        f"other country {LISTED_SHARE}0% (its own paths and currency). Fakes: JustWatch {args.jw_latency_ms:g} ms "
        f"per page, review sites {args.review_latency_ms:g} ms per request (reviews for "
        f"{args.review_fraction:.0%} of the titles), Gemini {args.llm_latency_ms:g} ms per call. One "
        f"`trending-now run` per run in a fresh DuckDB warehouse, {args.repeat} run(s) per country count, the "
        "counts interleaved; each figure is the median of its runs (the wall time's range in brackets). "
        "`justwatch.country_concurrency` from config/base.yaml. Claims checked: LLM calls per unique title 1.00 "
        "and the same review requests in every run, median wall time of 5 countries <= 2.0x and of 20 <= 4x the "
        "1-country median. The machine (2 cores) was shared with other jobs: load average (1 / 5 / 15 min) "
        f"{load_before} when the bench started, {load_after} when it ended; wall times are noisy, the ratios "
        "are what count."
    )
    path = write_result(
        "countries", "Countries: 1, 5 and 20 countries on the same dates", table_md, notes, out=args.out
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
