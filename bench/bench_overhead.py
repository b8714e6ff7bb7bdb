"""Fixed cost of a run: what a day costs when there is nothing to do.

Runs the real `trending-now demo` (replay server, DuckDB) in a scratch warehouse: a first run, then a second
run that has nothing new (0 LLM calls, 0 changed rows), whose step times are therefore each step's fixed
cost. Baselines in the same run: an empty Python process, the import of each heavy library in a fresh
process, and the same second run with bytecode compiled from source (an empty PYTHONPYCACHEPREFIX with
PYTHONDONTWRITEBYTECODE=1: what every process paid before `make setup` precompiled the venv).

    .venv/bin/python bench/bench_overhead.py            # writes bench/results/overhead.md
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, write_result

PY = str(ROOT / ".venv" / "bin" / "python")
EXPORTS = ROOT / "data" / "exports" / "bench-overhead"
CLI = str(ROOT / ".venv" / "bin" / "trending-now")
IMPORTS = {
    "python (empty process)": "pass",
    "trending_now.cli": "import trending_now.cli",
    "dlt": "import dlt",
    "dbt (dbtRunner)": "from dbt.cli.main import dbtRunner",
    "great_expectations": "import great_expectations",
    "dvc.repo": "import dvc.repo",
    "google.genai": "from google import genai",
}


def _env(scratch: Path, compiled: bool) -> dict[str, str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if not compiled:
        env["PYTHONPYCACHEPREFIX"] = str(scratch / "empty-pycache")  # no .pyc found: compile from source
    settings = {
        "WAREHOUSE__DUCKDB_PATH": scratch / "warehouse" / "bench.duckdb",
        "WAREHOUSE__PIPELINES_DIR": scratch / "warehouse" / ".dlt",
        "REVIEWS__CACHE_DIR": scratch / "http-cache",
        "EXPORT__DIR": EXPORTS,  # DVC tracks files inside the project only
        "DVC__LOCAL_REMOTE_PATH": scratch / "dvc-remote",
        "DVC__SITE_CACHE_DIR": scratch / "dvc-site-cache",
        "QUALITY__REPORT_DIR": scratch / "reports",
        "DBT__TARGET_PATH": scratch / "dbt-target",
        "DBT__LOG_PATH": scratch / "dbt-logs",
    }
    env.update({f"TRENDING_NOW__{k}": str(v) for k, v in settings.items()})
    env.pop("GEMINI_API_KEY", None)
    return env


def _timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, env=env, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - started


def _steps(env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run([CLI, "report", "--json"], env=env, check=True, capture_output=True, text=True, cwd=ROOT)
    return {row["step"]: float(row["duration_s"]) for row in json.loads(out.stdout)}


def main() -> None:
    shutil.rmtree(EXPORTS, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        scratch = Path(tmp)
        compiled, source = _env(scratch, True), _env(scratch, False)
        imports = {name: (_timed([PY, "-c", code], compiled), _timed([PY, "-c", code], source))
                   for name, code in IMPORTS.items()}
        print(f"imports measured: {len(imports)}", file=sys.stderr)
        first_s = _timed([CLI, "demo", "-q"], compiled)
        first = _steps(compiled)
        second_s = _timed([CLI, "demo", "-q"], compiled)
        second = _steps(compiled)
        cold_s = _timed([CLI, "demo", "-q"], source)
        cold = _steps(source)
    shutil.rmtree(EXPORTS, ignore_errors=True)

    base = imports["python (empty process)"][0]
    lines = ["| what | precompiled s | from source s | ratio to an empty process (precompiled) |",
             "|---|---:|---:|---:|"]
    for name, (warm, from_source) in imports.items():
        lines.append(f"| import {name} | {warm:.2f} | {from_source:.2f} | {warm / base:.1f}× |")
    lines.append(f"| `trending-now demo`, first run (46 titles) | {first_s:.1f} | – | {first_s / base:.0f}× |")
    lines.append(f"| `trending-now demo`, second run (nothing to do) | {second_s:.1f} | {cold_s:.1f} | "
                 f"{second_s / base:.0f}× |")
    steps = ["| step | first run s | second run s (fixed cost) | second run from source s | second / first |",
             "|---|---:|---:|---:|---:|"]
    for step, seconds in first.items():
        again = second.get(step, 0.0)
        steps.append(f"| {step} | {seconds:.2f} | {again:.2f} | {cold.get(step, 0.0):.2f} | "
                     f"{again / seconds if seconds else 0:.2f} |")
    steps.append(f"| **sum of steps** | {sum(first.values()):.2f} | {sum(second.values()):.2f} | "
                 f"{sum(cold.values()):.2f} | {sum(second.values()) / sum(first.values()):.2f} |")
    table = "\n".join(lines) + "\n\n" + "\n".join(steps)
    print(table)
    notes = (
        f"Goals (issue 15): second run ≤ 20 s (measured {second_s:.1f} s), first run ≤ 30 s (measured "
        f"{first_s:.1f} s). Wall times of whole CLI processes; step times from ops.pipeline_runs. The "
        "'from source' column is the same process with no usable bytecode, i.e. what each process paid "
        "before `make setup` precompiled the venv (`uv pip sync --compile-bytecode`)."
    )
    write_result("overhead", "Fixed cost of a run", table, notes=notes)


if __name__ == "__main__":
    main()
