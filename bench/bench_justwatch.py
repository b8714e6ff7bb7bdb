"""Benchmark: JustWatch new titles from the local GraphQL fake into DuckDB, parquet vs insert_values.

    python bench/bench_justwatch.py [--sizes 100,1000,10000] [--days 7]

Each case runs in a fresh subprocess (so peak RSS is that case's own), against a fake server running in
this process with the synthetic catalogue spread over ``--days`` days. The child runs the same pieces as
the ``extract_releases`` step (real client -> harvest -> dlt source -> ``Warehouse.dlt_run``), only with
the loader file format forced. Prints a Markdown table and writes it to ``bench/results/justwatch.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import write_result  # noqa: E402

AS_OF = date(2026, 11, 20)
FORMATS = ("parquet", "insert_values")


def child(url: str, days: int, fmt: str, workdir: Path) -> dict:
    """One case: extract the window from ``url`` into a fresh DuckDB file with loader format ``fmt``."""
    from core.config import load_settings  # noqa: PLC0415 - only the measured child process loads the pipeline
    from core.context import RunContext  # noqa: PLC0415 - only the measured child process loads the pipeline
    from extract.justwatch.client import JustWatchClient  # noqa: PLC0415 - only the measured child process loads the pipeline
    from extract.justwatch.harvest import NewTitlesHarvest  # noqa: PLC0415 - only the measured child process loads the pipeline
    from extract.justwatch.settings import DATASET_NAME, PIPELINE_NAME, JustWatchSettings  # noqa: PLC0415 - only the measured child process loads the pipeline
    from extract.justwatch.source import justwatch_source  # noqa: PLC0415 - only the measured child process loads the pipeline

    settings = load_settings("dev", root=ROOT, environ={}).with_overrides({
        "justwatch.graphql_url": url,
        "warehouse.duckdb_path": str(workdir / "bench.duckdb"),
        "warehouse.pipelines_dir": str(workdir / ".dlt"),
    })
    ctx = RunContext(settings=settings, as_of=AS_OF, days=days, quiet=True)
    started = time.perf_counter()
    jw = JustWatchSettings.from_settings(settings)
    with JustWatchClient(jw) as client:
        harvest = NewTitlesHarvest(client=client, days=ctx.window, country="US", as_of=AS_OF).collect()
    fetched = time.perf_counter()
    source = justwatch_source([harvest])
    ctx.warehouse.dlt_run(PIPELINE_NAME, DATASET_NAME, source, loader_file_format=fmt)
    finished = time.perf_counter()
    loaded = ctx.warehouse.fetch_all(f"select count(*) as n from {DATASET_NAME}.titles")[0]["n"]  # nosec B608  # noqa: S608 - constant identifiers: DATASET_NAME (extract.justwatch)
    return {
        "titles": loaded,
        "requests": harvest.client.stats.requests,
        "fetch_s": fetched - started,
        "load_s": finished - fetched,
        "total_s": finished - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_case(url: str, days: int, fmt: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-jw-") as tmp:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", "--url", url, "--days", str(days), "--fmt", fmt, "--workdir", tmp],
            capture_output=True, text=True, check=False, cwd=ROOT,
            env={"RUNTIME__DLTHUB_TELEMETRY": "false", "PATH": "/usr/bin:/bin", "HOME": tmp},
        )
    if proc.returncode != 0:
        raise SystemExit(f"bench case {fmt} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def floor_requests(n: int, days: int) -> int:
    """One request per 100 titles per day, and at least one per day (empty days still cost a request)."""
    per_day = [n // days + (1 if k < n % days else 0) for k in range(days)]
    return sum(max(1, math.ceil(c / 100)) for c in per_day)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="comma-separated title counts")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "justwatch.md")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--fmt", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.url, args.days, args.fmt, args.workdir)))
        return 0

    from tests.fakes.justwatch_server import FakeJustWatch, synthetic_catalogue, window  # noqa: PLC0415 - the parent alone serves the fakes

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    lines = [
        f"JustWatch extract -> DuckDB, fake GraphQL server on 127.0.0.1, {args.days}-day window, page size 100; "
        "one subprocess per case (peak RSS is the whole process: Python + dlt + duckdb).",
        "",
        "| titles | loader format | total s | titles/s | fetch s | load s | peak RSS MB | requests | "
        "requests/title | floor requests/title |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios = [
        "",
        "| titles | speed parquet / insert_values | peak RSS parquet / insert_values |",
        "|---:|---:|---:|",
    ]
    for n in sizes:
        results = {}
        with FakeJustWatch(synthetic_catalogue(n, window(AS_OF, args.days))) as fake:
            for fmt in FORMATS:
                r = run_case(fake.url, args.days, fmt)
                if r["titles"] != n:
                    raise SystemExit(f"{fmt}: loaded {r['titles']} titles, expected {n}")
                results[fmt] = r
                floor = floor_requests(n, args.days)
                lines.append(
                    f"| {n:,} | {fmt} | {r['total_s']:.2f} | {n / r['total_s']:,.0f} | {r['fetch_s']:.2f} | "
                    f"{r['load_s']:.2f} | {r['peak_rss_mb']:.0f} | {r['requests']} | {r['requests'] / n:.4f} | "
                    f"{floor / n:.4f} |"
                )
                print(lines[-1], file=sys.stderr, flush=True)
        p, iv = results["parquet"], results["insert_values"]
        ratios.append(f"| {n:,} | {iv['total_s'] / p['total_s']:.2f}x | {p['peak_rss_mb'] / iv['peak_rss_mb']:.2f} |")
    table = "\n".join(lines + ratios) + "\n"
    print(table)
    write_result("justwatch", "bench_justwatch: JustWatch extract -> DuckDB", table, out=args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
