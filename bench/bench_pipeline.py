"""End-to-end scale benchmark: the whole `trending-now run` for 100 / 1,000 / 10,000 titles on DuckDB.

    .venv/bin/python bench/bench_pipeline.py [--sizes 100,1000,10000] [--review-fraction 0.1]

For each size, in a throw-away project root (config + .dvc copied, dbt_project symlinked), this process
serves the local fakes as real HTTP servers on 127.0.0.1:

- JustWatch GraphQL (tests/fakes/justwatch_server.py): ``synthetic_specs(n)`` in the recorded format, spread
  over the 7-day window, ``--jw-latency-ms`` per page;
- review sites (tests/fakes/review_sites.py): TMDB, RogerEbert.com and Guardian content for a fraction of the
  titles (``--review-fraction``); every other title costs its 404s / empty searches; ``--review-latency-ms``
  per request;
- Gemini (tests/fakes/gemini_server.py): ``--llm-latency-ms`` + per-token latency, through the google-genai SDK.

and runs ``python -m trending_now run`` in a subprocess per day (peak RSS is that process's own, from
``os.wait4``), three days per size:

1. first run (empty warehouse);
2. the same day again: must make 0 LLM calls and change 0 mart rows (asserted);
3. the same day with 1% of the movies/shows given a new synopsis in the fake's catalogue: LLM calls must
   equal the changed titles, and exactly those mart rows change (asserted).

Step times come from ``ops.pipeline_runs``. Prints Markdown tables and writes bench/results/pipeline.md.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import write_result  # noqa: E402

from core.dbt_relations import relation  # noqa: E402
from extract.reviews.text import slugify  # noqa: E402
from tests.fakes.gemini_server import FakeGemini  # noqa: E402
from tests.fakes.justwatch_server import FakeJustWatch, TitleSpec, edge_for, synthetic_specs  # noqa: E402
from tests.fakes.review_sites import EbertPage, ReviewSites, guardian_result, tmdb_review  # noqa: E402
from trending_now.pipeline import STEP_NAMES  # noqa: E402

AS_OF = date(2026, 11, 20)
DAYS = 7
MART = str(relation("movies_tv_shows_enriched"))
FAKE_KEY = "bench-fake-key"  # the fakes only check that a key is sent
PRICE_IN, PRICE_OUT = 0.30, 2.50  # enrich.price_*_per_mtok in config/base.yaml


# ---- the fakes' content --------------------------------------------------------------------------------
class LatencyJustWatch(FakeJustWatch):
    """The JustWatch fake with a fixed server-side delay per page (the real API answers in a few hundred ms)."""

    def __init__(self, catalogue: dict[str, list[dict]], latency_s: float) -> None:
        super().__init__(catalogue)
        self.latency_s = latency_s

    def page(self, variables: dict[str, Any]) -> dict[str, Any]:
        time.sleep(self.latency_s)
        return super().page(variables)


@dataclass
class Catalogue:
    specs: list[TitleSpec]
    edges: dict[str, list[dict]]
    reviewed: list[int] = field(default_factory=list)  # indices of specs that have reviews


def build_catalogue(n: int, review_fraction: float) -> Catalogue:
    days = [AS_OF - timedelta(days=k) for k in range(DAYS - 1, -1, -1)]
    specs = synthetic_specs(n)
    edges: dict[str, list[dict]] = {d.isoformat(): [] for d in days}
    for i, spec in enumerate(specs):
        day = days[i % len(days)].isoformat()
        edges[day].append(edge_for(spec, day))
    stride = max(1, round(1 / review_fraction)) if review_fraction > 0 else 0
    reviewed = list(range(0, n, stride)) if stride else []
    return Catalogue(specs, edges, reviewed)


_PARAGRAPH = (
    "{title} is a {adj} piece of work: the performances are committed, the photography is handsome and the "
    "script knows when to hold back. It sags in the middle hour, but the last act earns its big swings, and "
    "the score does a lot of quiet work under the dialogue."
)


def seed_reviews(sites: ReviewSites, catalogue: Catalogue) -> None:
    """TMDB members' reviews, a RogerEbert page at the first slug guess, and a Guardian review per reviewed title."""
    for i in catalogue.reviewed:
        spec = catalogue.specs[i]
        year = int(spec.release_date[:4])
        if spec.kind == "season":
            if spec.show is None:
                raise SystemExit(f"synthetic season {spec.title!r} has no show")
            title, tmdb_id, imdb_id, is_show = spec.show.title, spec.show.tmdb_id, spec.show.imdb_id, True
        else:
            title, tmdb_id, imdb_id, is_show = spec.title, spec.tmdb_id, spec.imdb_id, spec.kind == "show"
        text = _PARAGRAPH.format(title=title, adj=("tense", "warm", "uneven", "bold")[i % 4])
        sites.add_tmdb("tv" if is_show else "movie", int(tmdb_id or 0), [
            tmdb_review(f"{i:024x}", f"member{i}", f"{text}\r\n\r\n**Recommended.**", rating=float(i % 10) + 0.5),
            tmdb_review(f"{i + 10**7:024x}", f"other{i}", f"Too long by half. {text}", rating=None),
        ])
        slug = slugify(title)
        path = f"/streaming/{slug}-tv-review-{year}" if is_show else f"/reviews/{slug}-{year}"
        sites.add_page(EbertPage(path=path, film_title=title, film_year=year, critic="Bench Critic",
                                 published=date(year, 6, 1), stars=float(1 + i % 4), tmdb_id=tmdb_id,
                                 content_type="show" if is_show else "movie",
                                 paragraphs=[text, "A second paragraph about the craft.", "A verdict."]))
        sites.add_guardian(guardian_result(f"film/{year}/jun/01/{slug}-review", f"{title} review – a {year} one",
                                           f"{text} {text}", "Bench Writer", f"{year}-06-01T10:00:00Z",
                                           star_rating=str(1 + i % 5), imdb_id=imdb_id), tv=is_show)


def change_synopses(catalogue: Catalogue, fraction: float = 0.01) -> set[str]:
    """Give ``fraction`` of the movies and shows a new synopsis in the served catalogue; return their ids."""
    candidates = [s for s in catalogue.specs if s.kind != "season"]
    count = max(1, round(len(catalogue.specs) * fraction))
    step = max(1, len(candidates) // count)
    chosen = {s.node_id for s in candidates[::step][:count]}
    for day_edges in catalogue.edges.values():
        for edge in day_edges:
            if edge["node"]["id"] in chosen:
                content = edge["node"]["content"]
                content["shortDescription"] = f"{content['shortDescription']} Now with an extended ending."
    return chosen


# ---- one run of the job in a subprocess ------------------------------------------------------------------
def make_project(base: Path) -> Path:
    root = base / "project"
    root.mkdir(parents=True)
    shutil.copytree(ROOT / "config", root / "config")
    shutil.copytree(ROOT / ".dvc", root / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache"))
    (root / "dbt_project").symlink_to(ROOT / "dbt_project")
    return root


def fake_overrides(jw: FakeJustWatch, sites: ReviewSites, gemini: FakeGemini,
                   args: argparse.Namespace) -> dict[str, str]:
    """The config that points the child run at the fakes, with the bench's concurrency."""
    return {
        "JUSTWATCH__GRAPHQL_URL": jw.url,
        "REVIEWS__TMDB__BASE_URL": sites.url("tmdb"),
        "REVIEWS__ROGEREBERT__BASE_URL": sites.url("rogerebert"),
        "REVIEWS__GUARDIAN__BASE_URL": sites.url("guardian"),
        "REVIEWS__PER_HOST_RPS": "10000",
        "REVIEWS__CONCURRENCY": str(args.reviews_concurrency),
        "ENRICH__PROVIDER": "gemini",
        "ENRICH__BASE_URL": gemini.base_url,
        "ENRICH__CONCURRENCY": str(args.enrich_concurrency),
        "ENRICH__REQUESTS_PER_MINUTE": "0",
        "ENRICH__MAX_COST_USD": "1000",
    }


def child_env(base: Path, root: Path, fakes: dict[str, str]) -> dict[str, str]:
    """The child process's whole environment: the ``fakes`` config, work dirs under ``base``, fake keys."""
    overrides = {
        **fakes,
        "DBT__TARGET_PATH": str(base / "dbt-target"),
        "DBT__LOG_PATH": str(base / "dbt-logs"),
        "DVC__SITE_CACHE_DIR": str(base / "dvc-site-cache"),
    }
    env = {f"TRENDING_NOW__{k}": v for k, v in overrides.items()}
    env.update({
        "TRENDING_NOW_ROOT": str(root),
        "APP_ENV": "dev",
        "GEMINI_API_KEY": FAKE_KEY,
        "TMDB_API_KEY": FAKE_KEY,
        "GUARDIAN_API_KEY": FAKE_KEY,
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(base),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DO_NOT_TRACK": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    })
    return env


@dataclass
class DayRun:
    label: str
    wall_s: float
    peak_rss_mb: float
    steps: dict[str, dict[str, Any]]
    mart: dict[str, tuple[Any, ...]]

    def total(self, field_name: str) -> float:
        return sum(float(s.get(field_name) or 0) for s in self.steps.values())


def run_day(label: str, base: Path, env: dict[str, str]) -> DayRun:
    stdout, stderr = base / f"{label}.out", base / f"{label}.err"
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "trending_now", "run", "--as-of", AS_OF.isoformat(), "-q"],
                                stdout=out, stderr=err, env=env, cwd=base)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{label}: exit {proc.returncode}\n{stderr.read_text()[-3000:]}")
    steps, mart = read_warehouse(Path(env["TRENDING_NOW_ROOT"]) / "data" / "warehouse" / "trending_now.duckdb")
    return DayRun(label, wall, usage.ru_maxrss / 1024, steps, mart)


def read_warehouse(db: Path) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[Any, ...]]]:
    conn = duckdb.connect(str(db), read_only=True)
    try:
        run_id = conn.execute("select run_id from ops.pipeline_runs order by started_at desc limit 1").fetchone()[0]
        cur = conn.execute("select * from ops.pipeline_runs where run_id = ? order by started_at", [run_id])
        names = [d[0] for d in cur.description]
        steps = {row[names.index("step")]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}
        cur = conn.execute(f"select * from {MART} order by id")  # nosec B608  # noqa: S608 - constant identifiers: MART (this module)
        mart = {row[0]: tuple(row) for row in cur.fetchall()}
    finally:
        conn.close()
    return steps, mart


def changed_rows(before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]]) -> set[str]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


# ---- one size ----------------------------------------------------------------------------------------------
@dataclass
class SizeResult:
    n: int
    reviewed: int
    first: DayRun
    same: DayRun
    delta: DayRun
    same_changed: set[str]
    delta_titles: set[str]
    delta_changed: set[str]
    fake_calls_first: int


def bench_size(n: int, args: argparse.Namespace, work: Path) -> SizeResult:
    base = work / f"n{n}"
    base.mkdir()
    root = make_project(base)
    catalogue = build_catalogue(n, args.review_fraction)
    with LatencyJustWatch(catalogue.edges, args.jw_latency_ms / 1000) as jw, \
            ReviewSites(latency_s=args.review_latency_ms / 1000) as sites, \
            FakeGemini(latency_s=args.llm_latency_ms / 1000, per_output_token_s=args.ms_per_output_token / 1000,
                       per_input_token_s=args.ms_per_input_token / 1000) as gemini:
        seed_reviews(sites, catalogue)
        env = child_env(base, root, fake_overrides(jw, sites, gemini, args))
        progress(f"{n:,} titles: day 1 (first run)")
        first = run_day("first", base, env)
        fake_calls_first = gemini.call_count
        if len(first.mart) != n:
            raise SystemExit(f"{n}: mart has {len(first.mart)} rows, expected {n}")
        progress(f"{n:,} titles: day 2 (same day again), first run took {first.wall_s:.1f}s")
        same = run_day("same", base, env)
        same_changed = changed_rows(first.mart, same.mart)
        require(same.total("llm_calls") == 0, f"same day again made {same.total('llm_calls')} LLM calls")
        require(not same_changed, f"same day again changed {len(same_changed)} mart rows")
        delta_titles = change_synopses(catalogue)
        progress(f"{n:,} titles: day 3 ({len(delta_titles)} synopses changed)")
        delta = run_day("delta", base, env)
        delta_changed = changed_rows(same.mart, delta.mart)
        require(delta.total("llm_calls") == len(delta_titles),
                f"1% day: {delta.total('llm_calls')} LLM calls for {len(delta_titles)} changed titles")
        require(delta_changed == delta_titles, f"1% day: mart rows changed {sorted(delta_changed ^ delta_titles)[:5]}")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return SizeResult(n, len(catalogue.reviewed), first, same, delta, same_changed, delta_titles, delta_changed,
                      fake_calls_first)


def require(ok: bool, message: str) -> None:
    """One of the bench's claims (checked under ``python -O`` too): stop with ``message`` when it fails."""
    if not ok:
        raise SystemExit(message)


def progress(message: str) -> None:
    print(f"  · {message}", file=sys.stderr, flush=True)


# ---- report ------------------------------------------------------------------------------------------------
def step_seconds(run: DayRun) -> dict[str, float]:
    return {name: float(run.steps.get(name, {}).get("duration_s") or 0.0) for name in STEP_NAMES}


def exponent(t_small: float, t_big: float, n_small: int, n_big: int) -> float:
    """``k`` in time ∝ titles^k between two sizes (1 = linear)."""
    if t_small <= 0 or t_big <= 0 or n_big == n_small:
        return float("nan")
    return math.log(t_big / t_small) / math.log(n_big / n_small)


SUB_LINEAR_BELOW, LINEAR_UP_TO = 0.85, 1.15  # the exponent k's bands in the growth table
GROWTH_SIZES = 2  # the growth table compares the two largest sizes


def verdict(k: float) -> str:
    if math.isnan(k):
        return "–"
    if k < SUB_LINEAR_BELOW:
        return "sub-linear (fixed costs dominate)"
    if k <= LINEAR_UP_TO:
        return "close to linear"
    return "super-linear"


def _first_table(results: list[SizeResult]) -> list[str]:
    first_lines = [
        "### Day 1: first run (empty warehouse)",
        "",
        "| titles | titles with reviews | mart rows | wall s (process) | steps s | titles/s | peak RSS MB | "
        "LLM calls | calls/title | tokens in/title | tokens out/title | cost/title $ | cost/1k titles $ |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        f = r.first
        calls, t_in, t_out, cost = (f.total(k) for k in ("llm_calls", "tokens_in", "tokens_out", "cost_usd"))
        first_lines.append(
            f"| {r.n:,} | {r.reviewed:,} | {len(f.mart):,} | {f.wall_s:.1f} | {sum(step_seconds(f).values()):.1f} | "
            f"{r.n / f.wall_s:.1f} | {f.peak_rss_mb:.0f} | {calls:,.0f} | {calls / r.n:.2f} | {t_in / r.n:.0f} | "
            f"{t_out / r.n:.0f} | {cost / r.n:.6f} | {cost / r.n * 1000:.3f} |"
        )
    return first_lines


def _step_table(results: list[SizeResult]) -> list[str]:
    step_lines = [
        "### Day 1: where the time goes (seconds per step, share of the steps' total)",
        "",
        "| step | " + " | ".join(f"{r.n:,} titles" for r in results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    per_size = [step_seconds(r.first) for r in results]
    totals = [sum(s.values()) for s in per_size]
    for name in STEP_NAMES:
        cells = [f"{s[name]:.1f} ({s[name] / t:.0%})" if t else "–" for s, t in zip(per_size, totals, strict=True)]
        step_lines.append(f"| {name} | " + " | ".join(cells) + " |")
    step_lines.append("| **total** | " + " | ".join(f"**{t:.1f}**" for t in totals) + " |")
    return step_lines


def _scale_table(results: list[SizeResult]) -> list[str]:
    """Day 1's growth between the two largest sizes (empty with one size)."""
    if len(results) < GROWTH_SIZES:
        return []
    a, b = results[-2], results[-1]
    sa, sb = step_seconds(a.first), step_seconds(b.first)
    title_ratio = b.n / a.n
    scale_lines = [
        f"### Growth from {a.n:,} to {b.n:,} titles (×{title_ratio:g} titles), day 1",
        "",
        "| what | time ratio | exponent k (time ∝ titles^k) | verdict |",
        "|---|---:|---:|---|",
    ]
    rows = [("whole process (wall)", a.first.wall_s, b.first.wall_s)]
    rows += [(name, sa[name], sb[name]) for name in STEP_NAMES]
    rows.append(("peak RSS", a.first.peak_rss_mb, b.first.peak_rss_mb))
    for label, ta, tb in rows:
        k = exponent(ta, tb, a.n, b.n)
        ratio = f"{tb / ta:.2f}×" if ta else "–"
        scale_lines.append(f"| {label} | {ratio} | {k:.2f} | {verdict(k)} |")
    return scale_lines


def _rerun_table(results: list[SizeResult]) -> list[str]:
    rerun_lines = [
        "### Days 2 and 3: idempotent re-run and a 1% change",
        "",
        "| titles | day 2 wall s | day 2 LLM calls | day 2 changed mart rows | day 2 / day 1 wall | "
        "day 3 changed titles | day 3 LLM calls | day 3 changed mart rows | day 3 wall s | day 3 cost $ |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rerun_lines += [
        f"| {r.n:,} | {r.same.wall_s:.1f} | {r.same.total('llm_calls'):.0f} | {len(r.same_changed)} | "
        f"{r.same.wall_s / r.first.wall_s:.2f} | {len(r.delta_titles)} | {r.delta.total('llm_calls'):.0f} | "
        f"{len(r.delta_changed)} | {r.delta.wall_s:.1f} | {r.delta.total('cost_usd'):.4f} |"
        for r in results
    ]
    return rerun_lines


def _day3_table(results: list[SizeResult]) -> list[str]:
    day3_lines = [
        "### Days 2 and 3: seconds per step",
        "",
        "| step | " + " | ".join(f"{r.n:,} day 2 | {r.n:,} day 3" for r in results) + " |",
        "|---|" + "---:|---:|" * len(results),
    ]
    for name in STEP_NAMES:
        cells = []
        for r in results:
            cells += [f"{step_seconds(r.same)[name]:.1f}", f"{step_seconds(r.delta)[name]:.1f}"]
        day3_lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return day3_lines


def _notes(args: argparse.Namespace) -> str:
    notes = (
        "Set-up: each day is `python -m trending_now run --as-of 2026-11-20` in its own subprocess against a "
        "throw-away project root (DuckDB, dbt, Great Expectations, Parquet export, DVC to a local remote), peak RSS "
        "from `os.wait4` of that process. Fakes are real HTTP servers on 127.0.0.1 in the bench process: JustWatch "
        f"GraphQL {args.jw_latency_ms:g} ms per page (100 titles a page, 7-day window); review sites "
        f"{args.review_latency_ms:g} ms per request, reviews (2 TMDB + 1 RogerEbert + 1 Guardian) for "
        f"{args.review_fraction:.0%} of the titles, the others cost their 404s and empty searches; Gemini fake "
        f"{args.llm_latency_ms:g} ms + {args.ms_per_output_token:g} ms/output token + {args.ms_per_input_token:g} "
        f"ms/input token via the google-genai SDK, `enrich.provider=gemini`, prices ${PRICE_IN}/${PRICE_OUT} per "
        "1M in/out tokens. Bench overrides of the production config: `reviews.per_host_rps` 10000 (default 1), "
        f"`reviews.concurrency` {args.reviews_concurrency} (default 4), `enrich.concurrency` "
        f"{args.enrich_concurrency} (default 4), `enrich.requests_per_minute` 0 = no client-side limit (default "
        "300), `enrich.max_cost_usd` 1000. With the production defaults the two network steps are bounded by "
        "politeness instead: 300 LLM requests/min is ≥ 33 min for 10,000 new titles, and 1 request/s per review "
        "host is ≥ ~1 h for 10,000 titles (3 RogerEbert guesses per movie). Day 2 and day 3 re-fetch every "
        "title's reviews (HTTP cache answers 304 with the same latency) and re-run dbt/GE/export/DVC; the "
        "assertions (day 2: 0 LLM calls, 0 changed mart rows; day 3: LLM calls = changed titles = changed mart "
        "rows) hold for every size in the tables."
    )
    return notes


def report(results: list[SizeResult], args: argparse.Namespace) -> tuple[str, str]:
    blocks = (_first_table(results), _step_table(results), _scale_table(results), _rerun_table(results),
              _day3_table(results))
    tables = "\n\n".join("\n".join(block) for block in blocks if block)
    return tables, _notes(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="comma-separated title counts")
    parser.add_argument("--review-fraction", type=float, default=0.1, help="share of titles that have reviews")
    parser.add_argument("--jw-latency-ms", type=float, default=300.0)
    parser.add_argument("--review-latency-ms", type=float, default=30.0)
    parser.add_argument("--llm-latency-ms", type=float, default=200.0)
    parser.add_argument("--ms-per-output-token", type=float, default=2.0)
    parser.add_argument("--ms-per-input-token", type=float, default=0.02)
    parser.add_argument("--reviews-concurrency", type=int, default=16)
    parser.add_argument("--enrich-concurrency", type=int, default=16)
    parser.add_argument("--keep", action="store_true", help="keep the throw-away project roots (printed)")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())

    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    results = []
    try:
        for n in sizes:
            results.append(bench_size(n, args, work))
            r = results[-1]
            progress(f"{n:,} titles done: day 1 {r.first.wall_s:.1f}s, day 2 {r.same.wall_s:.1f}s, "
                     f"day 3 {r.delta.wall_s:.1f}s")
    finally:
        if args.keep:
            progress(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    tables, notes = report(results, args)
    print(tables)
    print()
    print(notes)
    path = write_result("pipeline", "End-to-end pipeline at scale (trending-now run on DuckDB)", tables, notes)
    print(f"\nwritten to {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
