"""dbt build time for 100 / 1,000 / 10,000 titles on DuckDB: first build vs an incremental one.

Synthetic raw tables shaped like docs/raw-tables.md are loaded with dlt (as the extract and enrich
steps do). For each size: the two pipeline builds around enrichment on an empty warehouse (first
run), then 1% of the titles get a new synopsis and the same builds run again (incremental run).
The ratio incremental / first is measured in the same run. Prints a Markdown table and writes it to
bench/results/dbt.md.

    .venv/bin/python bench/bench_dbt.py [--sizes 100,1000,10000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt  # noqa: E402
import duckdb  # noqa: E402
from _common import write_result  # noqa: E402

from core.dbt_relations import relation  # noqa: E402
from tests.dbt.dbt_helpers import AFTER_ENRICHMENT, BEFORE_ENRICHMENT, run_dbt  # noqa: E402
from tests.dbt.raw_loader import RawLoader, enrichment_record, review_record, title_record  # noqa: E402

ENRICHMENT_INPUT = relation("titles_enrichment_input")
MART = relation("movies_tv_shows_enriched")

GENRES = ["act", "ani", "cmy", "crm", "doc", "drm", "fnt", "hst", "hrr", "fml", "msc", "trl", "rma", "scf"]
PACKAGES = [("Netflix", "nfx"), ("Hulu", "hlu"), ("Apple TV", "atp"), ("Disney Plus", "dnp"), ("Max", "mxx")]


SEASON = 2  # kind of every third synthetic title: a season of a show that is not listed


def synthetic_titles(count: int, synopsis_suffix: str = "", only: set[int] | None = None) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        if only is not None and i not in only:
            continue
        kind = i % 3  # movie, show, season of a show that is not listed
        node_id = ("tm", "ts", "tss")[kind] + str(100000 + i)
        extra: dict[str, Any] = {}
        if kind == SEASON:
            extra = {"season_number": 1 + i % 5, "show_id": f"ts{900000 + i}", "show_title": f"Show {i}",
                     "show_full_path": f"/us/tv-show/show-{i}", "show_tmdb_id": str(i)}
        rows.append(title_record(
            node_id, ("MOVIE", "SHOW", "SHOW_SEASON")[kind], f"Title {i}",
            original_release_year=2000 + i % 26, original_release_date="2025-01-01", runtime_minutes=20 + i % 150,
            short_description=f"Synopsis of title {i} with a \"quote\".{synopsis_suffix}",
            full_path=f"/us/x/title-{i}", imdb_score=5 + (i % 50) / 10, tomato_meter=i % 101,
            genres=[GENRES[i % len(GENRES)], GENRES[(i * 7) % len(GENRES)]], production_countries=["US"],
            credits=[{"role": "ACTOR", "name": f"Actor {i}-{k}", "character_name": f"Role {k}"} for k in range(4)]
            + [{"role": "DIRECTOR", "name": f"Director {i}", "character_name": None}],
            offers=[{"monetization_type": "FLATRATE", "presentation_type": "HD", "package_clear_name": p,
                     "package_short_name": s} for p, s in (PACKAGES[i % 5], PACKAGES[(i + 2) % 5])],
            **extra,
        ))
    return rows


def synthetic_reviews(count: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        title_id = (f"tm{100000 + i}", f"ts{100000 + i}", f"ts{900000 + i}")[i % 3]
        rows += [review_record(title_id, source, f"https://{source}.example/{i}",
                               f"Review {i} from {source}: \"good\"\nand long. " * 5,
                               author=f"Critic {i}", original_score="4/5", score_normalized=8.0)
                 for source in ("tmdb", "guardian")]
    return rows


def enrich(db: Path, loader: RawLoader) -> None:
    conn = duckdb.connect(str(db))
    try:
        inputs = conn.execute(f"select id, source_data_hash from {ENRICHMENT_INPUT}").fetchall()  # nosec B608  # noqa: S608 - constant identifiers: ENRICHMENT_INPUT, MART (core.dbt_relations)
        exists = conn.execute("select count(*) from information_schema.tables where table_schema = 'raw_enrichment'"
                              " and table_name = 'title_enrichments'").fetchone()[0]
        done = set(conn.execute("select id, source_data_hash from raw_enrichment.title_enrichments").fetchall()) \
            if exists else set()
    finally:
        conn.close()
    when = datetime.now(UTC)
    missing = [enrichment_record(i, h, enriched_at=when) for i, h in inputs if (i, h) not in done]
    if missing:
        loader.enrichments(missing)


def timed_builds(db: Path, work: Path, loader: RawLoader) -> float:
    env = {"TRENDING_NOW_DUCKDB_PATH": str(db)}
    start = time.perf_counter()
    run_dbt(BEFORE_ENRICHMENT, target="duckdb", work_dir=work, env=env)
    elapsed = time.perf_counter() - start
    enrich(db, loader)  # the enrich step is not dbt: not timed
    start = time.perf_counter()
    run_dbt(AFTER_ENRICHMENT, target="duckdb", work_dir=work, env=env)
    return elapsed + time.perf_counter() - start


def bench(size: int, base: Path) -> dict[str, Any]:
    db = base / f"bench_{size}.duckdb"
    loader = RawLoader(dlt.destinations.duckdb(credentials=str(db)), base / f".dlt_{size}", name=f"bench_{size}")
    loader.titles(synthetic_titles(size))
    loader.reviews(synthetic_reviews(size))
    # Parse once, untimed, so both measured runs use dbt's partial parsing alike.
    run_dbt(["parse"], target="duckdb", work_dir=base / f"work_{size}", env={"TRENDING_NOW_DUCKDB_PATH": str(db)})
    first = timed_builds(db, base / f"work_{size}", loader)
    changed = set(range(0, size, 100))  # 1% of the titles get a new synopsis
    loader.titles(synthetic_titles(size, synopsis_suffix=" Updated.", only=changed))
    incremental = timed_builds(db, base / f"work_{size}", loader)
    # The mart model alone: an incremental merge (nothing changed) vs rebuilding it from scratch.
    env = {"TRENDING_NOW_DUCKDB_PATH": str(db)}
    start = time.perf_counter()
    run_dbt(["run", "--select", "movies_tv_shows_enriched"], target="duckdb", work_dir=base / f"work_{size}", env=env)
    mart_incremental = time.perf_counter() - start
    start = time.perf_counter()
    run_dbt(["run", "--select", "movies_tv_shows_enriched", "--full-refresh"], target="duckdb",
            work_dir=base / f"work_{size}", env=env)
    mart_full = time.perf_counter() - start
    conn = duckdb.connect(str(db))
    try:
        rows = conn.execute(f"select count(*) from {MART}").fetchone()[0]  # nosec B608  # noqa: S608 - constant identifiers: ENRICHMENT_INPUT, MART (core.dbt_relations)
        moved = conn.execute(f"select count(distinct data_ingestion_timestamp) from {MART}").fetchone()[0]  # nosec B608  # noqa: S608 - constant identifiers: ENRICHMENT_INPUT, MART (core.dbt_relations)
    finally:
        conn.close()
    return {"size": size, "first": first, "incremental": incremental, "rows": rows, "changed": len(changed), "mart_incremental": mart_incremental, "mart_full": mart_full,
            "timestamps": moved}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench_dbt_") as tmp:
        results = [bench(size, Path(tmp)) for size in sizes]
    lines = [
        "| titles | mart rows | first build (s) | incremental build, 1% changed (s) | incremental / first "
        "| mart only: full refresh (s) | mart only: incremental (s) | incremental / full |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['size']:,} | {r['rows']:,} | {r['first']:.1f} | {r['incremental']:.1f} | "
              f"{r['incremental'] / r['first']:.2f} | {r['mart_full']:.1f} | {r['mart_incremental']:.1f} | "
              f"{r['mart_incremental'] / r['mart_full']:.2f} |" for r in results]
    table = "\n".join(lines)
    note = ("\nBoth builds are the pipeline's two dbt commands (before and after enrichment) on DuckDB, "
            "tests included, unit tests excluded, after an untimed `dbt parse`; the enrichment itself "
            "and the dlt loads are not timed. "
            f"Machine: {os.cpu_count()} CPUs shared.\n")
    print(table)
    print(note)
    write_result("dbt", "dbt build: first vs incremental", table, note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
