"""A month of daily runs at live volume against the local fakes: requests, budgets and time per day.

    .venv/bin/python bench/bench_month.py [--days 30] [--new-per-day 130] [--mode reviews|full]

One throw-away DuckDB warehouse; every day ``as_of`` moves one day and the real steps run in this process
(``trending_now.pipeline.run_steps``, recorded in ``ops.pipeline_runs``) against real HTTP fakes on
127.0.0.1: JustWatch GraphQL (tests/fakes/justwatch_server.py, ~130 new titles a day, 7-day window, a few
synopses changed each day) and the three review sites (tests/fakes/review_sites.py), where reviews appear
days after a title is first listed (TMDB members 0–6 days after, critics 1–10 days after, for a share of
the titles).

``--mode reviews`` (default) runs extract_releases, dbt_titles and extract_reviews: what issue 17 changes.
``--mode full`` runs every step up to the published mart (dbt, enrichment through the real SDK against the
Gemini fake, the gate), so LLM calls and changed mart rows are measured too (several times slower).

Budgets count per run day (``reviews.budget_day: as_of``) so 30 days fit in one real day. Prints a table
per day and writes bench/results/month.md with the goals of issue 17, met or missed.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import write_result  # noqa: E402

from core.config import Secrets, Settings, load_settings  # noqa: E402
from core.context import RunContext  # noqa: E402
from core.dbt_relations import relation  # noqa: E402
from extract.reviews.settings import SOURCES, ReviewsSettings  # noqa: E402
from extract.reviews.text import slugify  # noqa: E402
from tests.fakes.gemini_server import FakeGemini  # noqa: E402
from tests.fakes.justwatch_server import FakeJustWatch, TitleSpec, edge_for, synthetic_specs  # noqa: E402
from tests.fakes.review_sites import EbertPage, ReviewSites, guardian_result, tmdb_review  # noqa: E402
from trending_now import pipeline  # noqa: E402
from trending_now.pipeline import STEPS, run_steps  # noqa: E402

START = date(2026, 11, 1)
WINDOW = 7
TMDB_SHARE, CRITICS_SHARE = 0.5, 0.3  # of the titles that get TMDB members' / critics' reviews
REVIEW_STEPS = [pipeline.EXTRACT_RELEASES, pipeline.DBT_TITLES, pipeline.EXTRACT_REVIEWS]
# every step up to the published mart (the Parquet export and the DVC snapshot are not what this measures)
FULL_STEPS = [step for step in STEPS if step not in (pipeline.EXPORT_PARQUET, pipeline.SNAPSHOT_DVC)]
MART = str(relation("movies_tv_shows_enriched"))


@dataclass
class Title:
    spec: TitleSpec
    listed_on: date
    tmdb_after: int | None  # days after listing when TMDB members' reviews appear (None: never)
    critics_after: int | None  # days after listing when the RogerEbert and Guardian reviews appear

    def identity(self) -> tuple[str, str | None, str | None, bool, int]:
        spec = self.spec
        year = int(spec.release_date[:4])
        if spec.kind == "season":
            if spec.show is None:
                raise SystemExit(f"synthetic season {spec.title!r} has no show")
            return spec.show.title, spec.show.tmdb_id, spec.show.imdb_id, True, year
        return spec.title, spec.tmdb_id, spec.imdb_id, spec.kind == "show", year


def build_titles(days: int, per_day: int, seed: int = 11) -> list[Title]:
    rng = random.Random(seed)
    total_days = days + WINDOW
    specs = synthetic_specs(total_days * per_day, seed=seed)
    titles = []
    for i, spec in enumerate(specs):
        listed = START - timedelta(days=WINDOW - 1) + timedelta(days=i // per_day)
        tmdb_after = rng.randint(0, 6) if rng.random() < TMDB_SHARE else None
        critics_after = rng.randint(1, 10) if rng.random() < CRITICS_SHARE else None
        titles.append(Title(spec, listed, tmdb_after, critics_after))
    return titles


def catalogue_for(titles: list[Title]) -> dict[str, list[dict]]:
    edges: dict[str, list[dict]] = defaultdict(list)
    for t in titles:
        day = t.listed_on.isoformat()
        edges[day].append(edge_for(t.spec, day))
    return dict(edges)


def publish_reviews(sites: ReviewSites, titles: list[Title], today: date) -> None:
    """Reviews that appear today (idempotent: re-adding replaces)."""
    for i, t in enumerate(titles):
        title, tmdb_id, imdb_id, is_show, year = t.identity()
        age = (today - t.listed_on).days
        text = f"{title} is committed, handsome and a little long; the last act earns its swings."
        if t.tmdb_after is not None and age == t.tmdb_after and tmdb_id:
            sites.add_tmdb("tv" if is_show else "movie", int(tmdb_id), [
                tmdb_review(f"{i:024x}", f"member{i}", text, rating=float(i % 10) + 0.5,
                            created_at=f"{today.isoformat()}T10:00:00.000Z")])
        if t.critics_after is not None and age == t.critics_after:
            slug = slugify(title)
            path = f"/streaming/{slug}-tv-review-{year}" if is_show else f"/reviews/{slug}-film-review-{year}"
            sites.add_page(EbertPage(path=path, film_title=title, film_year=year, critic="Bench Critic",
                                     published=today, stars=float(1 + i % 4), tmdb_id=tmdb_id,
                                     content_type="show" if is_show else "movie", paragraphs=[text, "A verdict."]))
            sites.add_guardian(guardian_result(f"film/{today.year}/x/{slug}-review", f"{title} review – a verdict",
                                               text, "Bench Writer", f"{today.isoformat()}T10:00:00Z",
                                               star_rating=str(1 + i % 5), imdb_id=imdb_id), tv=is_show)


def change_synopses(catalogue: dict[str, list[dict]], today: date, count: int, rng: random.Random) -> int:
    """``count`` titles still in the window get a new synopsis today (the LLM must see them again)."""
    window = [e for d in range(WINDOW) for e in catalogue.get((today - timedelta(days=d)).isoformat(), [])
              if e["node"]["objectType"] != "SHOW_SEASON"]
    for edge in rng.sample(window, min(count, len(window))):
        content = edge["node"]["content"]
        content["shortDescription"] = f"{content['shortDescription']} (updated {today.isoformat()})"
    return min(count, len(window))


def settings_for(base: Path, jw: FakeJustWatch, sites: ReviewSites, gemini_url: str | None) -> Settings:
    settings = load_settings("dev", root=ROOT, environ={})
    values: dict[str, Any] = {
        "warehouse.duckdb_path": str(base / "warehouse.duckdb"),
        "warehouse.pipelines_dir": str(base / ".dlt"),
        "reviews.cache_dir": str(base / "http-cache"),
        "dbt.target_path": str(base / "dbt-target"),
        "dbt.log_path": str(base / "dbt-logs"),
        "quality.report_dir": str(base / "reports"),
        "justwatch.graphql_url": jw.url,
        "reviews.per_host_rps": 0,
        "reviews.budget_day": "as_of",
        **{f"reviews.{s}.base_url": sites.url(s) for s in SOURCES},
    }
    if gemini_url:
        values.update({"enrich.provider": "gemini", "enrich.base_url": gemini_url, "enrich.requests_per_minute": 0,
                       "enrich.max_cost_usd": 1000})
    settings = settings.with_overrides(values)
    secrets = {"TMDB_API_KEY": "bench-fake-key", "GUARDIAN_API_KEY": "bench-fake-key"}
    if gemini_url:
        secrets["GEMINI_API_KEY"] = "bench-fake-key"
    return Settings(settings.data, settings.env, Secrets(secrets, source="bench"), settings.root)


def mart_rows(ctx: RunContext) -> dict[str, Any]:
    if not ctx.warehouse.table_exists(*MART.split(".")):
        return {}
    return {r["id"]: r["source_data_hash"] for r in ctx.warehouse.fetch_all(f"select id, source_data_hash from {MART}")}  # nosec B608  # noqa: S608 - constant identifiers: MART (this module)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--new-per-day", type=int, default=130)
    parser.add_argument("--synopsis-changes", type=int, default=3)
    parser.add_argument("--mode", choices=("reviews", "full"), default="reviews")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/results/month.md alone")
    return parser.parse_args()


@dataclass
class Month:
    """The month's fixed parts (titles, fake sites, settings, steps) and the mart of the day before."""

    args: argparse.Namespace
    titles: list[Title]
    catalogue: dict[str, list[dict]]
    sites: ReviewSites
    settings: Settings
    steps: list[Any]
    rng: random.Random
    previous_mart: dict[str, Any] = field(default_factory=dict)

    def run_day(self, n: int) -> dict[str, Any]:
        """Day ``n`` (0-based): publish its reviews, change some synopses, run the steps; its table row."""
        today = START + timedelta(days=n)
        publish_reviews(self.sites, self.titles, today)
        changed = change_synopses(self.catalogue, today, self.args.synopsis_changes, self.rng) if n else 0
        ctx = RunContext(settings=self.settings, as_of=today, days=WINDOW, quiet=True)
        before = {s: self.sites.total(f"/{s}") for s in SOURCES}
        started = time.perf_counter()
        records = run_steps(ctx, self.steps)
        wall = time.perf_counter() - started
        by_step = {r.result.step: r for r in records}
        reviews = by_step["extract_reviews"].result
        return {
            "day": n + 1, "as_of": today.isoformat(),
            "new_titles": sum(1 for t in self.titles if t.listed_on == today),
            "titles_due": reviews.rows_in, "fetches": reviews.details["fetches_due"],
            "requests": {s: self.sites.total(f"/{s}") - before[s] for s in SOURCES},
            "budget": reviews.details["budget"], "stopped": reviews.details["stopped_sources"],
            "reviews_kept": reviews.rows_out, "synopses_changed": changed,
            "llm_calls": by_step["enrich_titles"].result.llm.calls if "enrich_titles" in by_step else None,
            "mart_changed": self.mart_changed(ctx),
            "wall_s": wall,
            "step_s": {name: rec.duration_s for name, rec in by_step.items()},
        }

    def mart_changed(self, ctx: RunContext) -> int | None:
        """Mart rows new or changed since the day before (full mode only)."""
        if self.args.mode != "full":
            return None
        mart = mart_rows(ctx)
        changed = sum(1 for k, v in mart.items() if self.previous_mart.get(k) != v)
        self.previous_mart = mart
        return changed


def write_month(args: argparse.Namespace, steps: list[Any], table: str, goals: str) -> None:
    notes = NOTES.format(mode=args.mode, steps=", ".join(s.name for s in steps), per_day=args.new_per_day,
                         days=args.days)
    path = write_result("month", f"A month of daily runs at live volume ({args.mode} mode)",
                        goals + "\n\n" + table, notes=notes)
    print(f"wrote {path.relative_to(ROOT)}")


def main() -> int:
    args = parse_args()
    titles = build_titles(args.days, args.new_per_day)
    catalogue = catalogue_for(titles)
    steps = FULL_STEPS if args.mode == "full" else REVIEW_STEPS
    base = Path(tempfile.mkdtemp(prefix="bench-month-"))
    rows: list[dict[str, Any]] = []
    gemini = None
    try:
        with FakeJustWatch(catalogue) as jw, ReviewSites() as sites:
            if args.mode == "full":
                gemini = FakeGemini().start()
            settings = settings_for(base, jw, sites, gemini.base_url if gemini else None)
            month = Month(args, titles, catalogue, sites, settings, steps, random.Random(5))
            for n in range(args.days):
                rows.append(month.run_day(n))
                print(day_line(rows[-1]), flush=True)
            per_title = fetches_per_title(RunContext(settings=settings, as_of=START, quiet=True), START)
    finally:
        if gemini is not None:
            gemini.stop()
        shutil.rmtree(base, ignore_errors=True)

    table = day_table(rows)
    goals = goals_table(rows, per_title, settings_budgets(), args)
    print("\n" + table + "\n\n" + goals)
    if not args.no_write:
        write_month(args, steps, table, goals)
    return 0


def settings_budgets() -> dict[str, int]:
    settings = ReviewsSettings.from_settings(load_settings("dev", root=ROOT, environ={}))
    return {source: settings.daily_budget(source) for source in SOURCES}


def fetches_per_title(ctx: RunContext, first_day: date) -> dict[str, dict[str, float]]:
    """Fetches per (title, source) over the month for the titles first fetched on day 1 (a full 30 days)."""
    rows = ctx.warehouse.fetch_all(
        "select source, avg(fetch_count) as mean, max(fetch_count) as most, count(*) as titles "
        "from raw_reviews.review_fetches where first_fetched_on = ? group by source order by source", [first_day])
    return {r["source"]: {"mean": float(r["mean"]), "max": int(r["most"]), "titles": int(r["titles"])} for r in rows}


def day_line(row: dict[str, Any]) -> str:
    req = " ".join(f"{s} {row['requests'][s]}" for s in SOURCES)
    return f"day {row['day']:>2} {row['as_of']}: due {row['titles_due']:>4}, requests {req}, {row['wall_s']:.1f}s"


def day_table(rows: list[dict[str, Any]]) -> str:
    head = ("| day | new titles | titles due | new / refresh fetches | TMDB req (used/budget) | RogerEbert req "
            "(used/budget) | Guardian req (used/budget) | deferred T/R/G | LLM calls | changed mart rows | "
            "wall s | extract_releases s | dbt_titles s | extract_reviews s |")
    lines = [head, "|" + "---:|" * 14]
    for r in rows:
        b = r["budget"]

        def cell(s: str, b: dict = b, r: dict = r) -> str:
            return f"{r['requests'][s]} ({b[s]['used_today']}/{b[s]['daily_budget']})"

        deferred = "/".join(str(b[s]["deferred"]) for s in SOURCES)
        llm = "–" if r["llm_calls"] is None else str(r["llm_calls"])
        mart = "–" if r["mart_changed"] is None else str(r["mart_changed"])
        lines.append(
            f"| {r['day']} | {r['new_titles']} | {r['titles_due']} | {r['fetches'].get('new', 0)} / "
            f"{r['fetches'].get('refresh', 0)} | {cell('tmdb')} | {cell('rogerebert')} | {cell('guardian')} | "
            f"{deferred} | {llm} | {mart} | {r['wall_s']:.1f} | {r['step_s'].get('extract_releases', 0):.1f} | "
            f"{r['step_s'].get('dbt_titles', 0):.1f} | {r['step_s'].get('extract_reviews', 0):.1f} |")
    return "\n".join(lines)


MAX_FETCHES = 6  # issue 17: review requests per title and source
MAX_SLOWDOWN = 1.3  # issue 17: a later day's wall time at most this many times an earlier one's
DAY_7, DAY_30 = 6, 29  # their indexes in the rows
MIN_STEADY_DAYS = 4


def _verdict(ok: bool, missed: str = "MISSED") -> str:
    return "met" if ok else missed


def _budget_goal(rows: list[dict[str, Any]], budgets: dict[str, int]) -> str:
    over = [(r["day"], s) for r in rows for s in SOURCES if r["budget"][s]["used_today"] > r["budget"][s]["daily_budget"]]
    return (f"| requests per source per day within budget ({', '.join(f'{s} {budgets[s]}' for s in SOURCES)}) "
            f"| max/day: " + ", ".join(f"{s} {max(r['budget'][s]['used_today'] for r in rows)}" for s in SOURCES)
            + f" | {_verdict(not over, f'MISSED on {over[:5]}')} |")


def _first_month_goal(per_title: dict[str, dict[str, float]]) -> str:
    worst = max((v["max"] for v in per_title.values()), default=0)
    return (f"| fetches per title over its first 30 days ≤ {MAX_FETCHES} per source (titles first fetched on day 1) | "
            + ", ".join(f"{s} mean {v['mean']:.2f} max {v['max']} ({v['titles']} titles)" for s, v in per_title.items())
            + f" | {_verdict(worst <= MAX_FETCHES)} |")


def _requests_per_title_goal(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    used = {s: sum(r["budget"][s]["used"] for r in rows) for s in SOURCES}
    listed = sum(r["new_titles"] for r in rows) + args.new_per_day * (WINDOW - 1)  # + the first window's backlog
    per_listed = {s: used[s] / max(1, listed) for s in SOURCES}
    return (f"| review requests per title ≤ {MAX_FETCHES} per source (every request of the month / {listed:,} titles "
            "listed; retries, robots.txt and RogerEbert's slug guesses included) | "
            + ", ".join(f"{s} {per_listed[s]:.2f}" for s in SOURCES)
            + f" | {_verdict(max(per_listed.values()) <= MAX_FETCHES)} |")


def _llm_goal(rows: list[dict[str, Any]]) -> str:
    if rows[0]["llm_calls"] is None:
        return ("| LLM calls per day = titles whose inputs changed | not measured in reviews mode "
                "(`--mode full`) | – |")
    mismatched = [r["day"] for r in rows[1:] if r["llm_calls"] != r["mart_changed"]]
    return (f"| LLM calls per day = titles whose inputs changed | "
            f"{'equal every day' if not mismatched else f'differ on days {mismatched}'} | "
            f"{_verdict(not mismatched, 'see table')} |")


def _per_k(r: dict[str, Any]) -> float:
    return r["step_s"].get("extract_reviews", 0) / max(1, sum(r["requests"].values())) * 1000


def _history_goals(d7: dict[str, Any], d30: dict[str, Any]) -> list[str]:
    return [
        f"| day-30 wall time ≤ {MAX_SLOWDOWN} × day-7 | day 7 {d7['wall_s']:.1f} s, day 30 {d30['wall_s']:.1f} s "
        f"(ratio {d30['wall_s'] / d7['wall_s']:.2f}) | {_verdict(d30['wall_s'] <= MAX_SLOWDOWN * d7['wall_s'])} |",
        f"| (same work, whatever the history) extract_reviews s per 1,000 requests, day 30 vs day 7 | "
        f"day 7 {_per_k(d7):.2f} s, day 30 {_per_k(d30):.2f} s (ratio {_per_k(d30) / _per_k(d7):.2f}); day 30 "
        f"asks {sum(d30['requests'].values())} requests, day 7 {sum(d7['requests'].values())} (the 7, 10 "
        f"and 14-day refreshes start after day 7) | {_verdict(_per_k(d30) <= MAX_SLOWDOWN * _per_k(d7))} |",
    ]


def _steady_goal(steady: list[dict[str, Any]]) -> str:
    half = len(steady) // 2
    first = sorted(r["wall_s"] for r in steady[:half])[half // 2]
    last = sorted(r["wall_s"] for r in steady[half:])[(len(steady) - half) // 2]
    return (f"| (same work) median wall time of the steady days {steady[0]['day']}–{steady[half - 1]['day']} "
            f"vs {steady[half]['day']}–{steady[-1]['day']} (same titles due each day) | {first:.1f} s vs "
            f"{last:.1f} s (ratio {last / first:.2f}) | {_verdict(last <= MAX_SLOWDOWN * first)} |")


def goals_table(rows: list[dict[str, Any]], per_title: dict[str, dict[str, float]], budgets: dict[str, int],
                args: argparse.Namespace) -> str:
    lines = [
        "| goal (issue 17) | measured | verdict |",
        "|---|---|---|",
        _budget_goal(rows, budgets),
        _first_month_goal(per_title),
        _requests_per_title_goal(rows, args),
        _llm_goal(rows),
    ]
    if len(rows) > DAY_30:
        d7, d30 = rows[DAY_7], rows[DAY_30]
        lines += _history_goals(d7, d30)
        steady = [r for r in rows if r["titles_due"] == d30["titles_due"]]
        if len(steady) >= MIN_STEADY_DAYS:
            lines.append(_steady_goal(steady))
    return "\n".join(lines)


NOTES = """Mode `{mode}`: steps {steps}, in this process, on one DuckDB warehouse, {days} consecutive run days;
{per_day} new titles listed per day (7-day JustWatch window, as live US volume); TMDB members' reviews for half
of the titles appear 0–6 days after listing, critics' reviews (RogerEbert.com, Guardian) for 30% 1–10 days
after. Requests are counted by the fake servers (retries, robots.txt and slug guesses included); "used/budget"
is the day's ledger (`ops.review_request_budget`) after the run; "deferred" counts titles a source's budget
could not pay for (they carry over). Wall time is the steps' total as `run_steps` records it.

Before issue 17 every run asked every source about every title in the 7-day window (~900 titles a day at this
volume): ~900 TMDB and ~900 Guardian calls and up to ~2,700 RogerEbert.com page guesses per day, each title
asked ~7 times in its first week."""


if __name__ == "__main__":
    raise SystemExit(main())
