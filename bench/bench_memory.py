"""Peak memory of one DAG task on a 1,000-title day: what sizes the MWAA workers (docs/airflow.md, "Sizing").

    .venv/bin/python bench/bench_memory.py [--titles 1000] [--review-fraction 0.1]

A day of ``--titles`` new titles is served by the local fakes (bench_pipeline's catalogue: JustWatch
GraphQL, the three review sites, the Gemini REST API, all on 127.0.0.1) to a throw-away DuckDB project.
Every step of the day then runs in a process of its own, as a task runs on an MWAA worker: the process
first imports Airflow and parses the DAG file (Cosmos renders the dbt groups from the manifest), as the
task runner does before it runs a task, then runs that one step (``run_steps``, as ``step_tasks.run_step``
does). A dbt step runs ``dbt build`` in-process through ``dbtRunner``: the invocation Cosmos' producer
(``dbt_producer_watcher``, ``InvocationMode.DBT_RUNNER``) makes inside its task process.

Per step: the resident memory after the DAG parse (``VmRSS``) and the peak of the whole process
(``ru_maxrss`` from ``wait4``, so the parent's memory is not counted). Prints a Markdown table and writes
bench/results/memory.md. The sizing derived from it is in docs/airflow.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import write_result  # noqa: E402
from bench_pipeline import (  # noqa: E402
    AS_OF,
    LatencyJustWatch,
    build_catalogue,
    child_env,
    fake_overrides,
    make_project,
    seed_reviews,
)

from tests.fakes.gemini_server import FakeGemini  # noqa: E402
from tests.fakes.review_sites import ReviewSites  # noqa: E402
from trending_now.pipeline import STEPS  # noqa: E402

DAG_FILE = ROOT / "dags" / "data_ingestion_trending_now.py"
DAG_ID = "data_ingestion_trending_now"
MIB = 1024 * 1024


def vm_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def child(step_name: str) -> int:
    """One task: parse the DAG (Airflow, Cosmos, the DAG's modules), then run ``step_name``."""
    import resource

    sys.path.insert(0, str(ROOT / "dags"))  # the DAGs folder is on sys.path under Airflow
    try:  # Airflow >= 3.1
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0
        from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))  # examples are off: AIRFLOW__CORE__LOAD_EXAMPLES=False
    if DAG_ID not in bag.dags:
        raise SystemExit(f"DAG {DAG_ID} did not parse: {bag.import_errors}")
    parsed = vm_rss_mib()

    from core.config import load_settings
    from core.context import RunContext
    from trending_now.pipeline import run_steps, steps_named

    settings = load_settings()
    ctx = RunContext(settings=settings, as_of=AS_OF, days=int(settings.require("run.days")),
                     country=str(settings.require("run.country")).upper(), limit=None, quiet=True)  # fmt: skip
    record = run_steps(ctx, steps_named([step_name]))[-1]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"parsed_mib": parsed, "peak_mib": peak, "rows_out": record.result.rows_out,
                      "duration_s": record.duration_s}))  # fmt: skip
    return 0


def run_child(step_name: str, env: dict[str, str], cwd: Path) -> dict[str, float]:
    out, err = cwd / f"{step_name}.out", cwd / f"{step_name}.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, __file__, "--child", step_name], stdout=stdout, stderr=stderr,
                                env=env, cwd=cwd)  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{step_name}: failed\n{err.read_text(encoding='utf-8')[-3000:]}")
    result = json.loads(out.read_text(encoding="utf-8").strip().splitlines()[-1])
    result["wait4_peak_mib"] = usage.ru_maxrss / 1024
    return result


def measure(args: argparse.Namespace, work: Path) -> list[tuple[str, str, dict[str, float]]]:
    catalogue = build_catalogue(args.titles, args.review_fraction)
    with LatencyJustWatch(catalogue.edges, 0.0) as jw, ReviewSites(latency_s=0.0) as sites, \
            FakeGemini(latency_s=0.0) as gemini:  # fmt: skip
        seed_reviews(sites, catalogue)
        root = make_project(work)
        env = child_env(work, root, fake_overrides(jw, sites, gemini, args))
        target = work / "dbt-target"
        target.mkdir()
        manifest = ROOT / "dbt_project" / "target" / "manifest.json"
        if not manifest.is_file():
            raise SystemExit(f"{manifest} is missing: run `make manifest` first")
        shutil.copy2(manifest, target / "manifest.json")  # the DAG file renders the dbt groups from it
        env.update(AIRFLOW_HOME=str(work / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
                   AIRFLOW__COSMOS__ENABLE_TELEMETRY="False", SCARF_ANALYTICS="false")  # fmt: skip
        rows = []
        for step in STEPS:
            kind = (
                "dbt (producer)" if step.name.startswith("dbt_") or step.name == "publish_mart" else "Python"
            )
            print(f"  {step.name} ...", file=sys.stderr, flush=True)
            rows.append((step.name, kind, run_child(step.name, env, work)))
        return rows


def table(rows: list[tuple[str, str, dict[str, float]]], titles: int) -> str:
    lines = [
        f"| step ({titles:,}-title day) | kind | RSS after DAG parse MiB | peak RSS MiB | step adds MiB | rows out | s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, kind, r in rows:
        peak = r["wait4_peak_mib"]
        lines.append(f"| {name} | {kind} | {r['parsed_mib']:.0f} | {peak:.0f} | {peak - r['parsed_mib']:.0f} | "
                     f"{r['rows_out']} | {r['duration_s']:.1f} |")  # fmt: skip
    for kind in ("dbt (producer)", "Python"):
        peaks = [r["wait4_peak_mib"] for _, k, r in rows if k == kind]
        worst = max(peaks)
        step = next(n for n, k, r in rows if k == kind and r["wait4_peak_mib"] == worst)
        lines.append(f"| **largest {kind}** | {step} | | **{worst:.0f}** | | | |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--titles", type=int, default=1000, help="new titles in the day")
    parser.add_argument(
        "--review-fraction", type=float, default=0.1, help="share of titles that have reviews"
    )
    parser.add_argument("--reviews-concurrency", type=int, default=16)
    parser.add_argument("--enrich-concurrency", type=int, default=16)
    parser.add_argument("--child", metavar="STEP", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    with tempfile.TemporaryDirectory(prefix="tn-bench-memory-") as tmp:
        rows = measure(args, Path(tmp))
    md = table(rows, args.titles)
    print(md)
    path = write_result(
        "memory",
        f"Peak memory of one DAG task on a {args.titles:,}-title day",
        md,
        notes="Each step in its own process after Airflow and the DAG file are loaded (the task runner's "
        "work before a task starts); dbt steps run `dbt build` through dbtRunner in that process, as Cosmos' "
        "producer does. Peak = ru_maxrss of the process (wait4). Sizing derived from it: docs/airflow.md.",
    )
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
