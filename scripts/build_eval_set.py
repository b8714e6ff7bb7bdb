"""Rebuild data/eval/eval_set.json: fixed inputs plus the expectations derived from labels, not from any provider.

    .venv/bin/trending-now demo && .venv/bin/python scripts/build_eval_set.py
    .venv/bin/python scripts/build_eval_set.py --keep-inputs     # labels or bands changed: same inputs

The inputs are the enrichment inputs a demo run built from data/samples (or, with --keep-inputs, the committed
set's own). The expectations: the primary genres a reviewer labelled from each title's source genres and
synopsis (eval.labels_path), the critics' consensus score band (eval.score_bands) and, without reviews, a
summary that says so. The set is committed: its inputs stay fixed while prompts and models change. Rebuild it
only when the samples or the labels change, and then re-accept the baselines (docs/evaluation.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import load_settings
from core.warehouse import Warehouse
from reporting.evaluation import ScoreBands, build_set, load_set, read_labels, warehouse_inputs


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duckdb", help="DuckDB file to read (default: warehouse.duckdb_path)")
    parser.add_argument(
        "--keep-inputs", action="store_true", help="reuse the committed set's inputs (no warehouse)"
    )
    args = parser.parse_args()
    settings = load_settings("dev")
    if args.duckdb:
        settings = settings.with_overrides(
            {"warehouse.duckdb_path": args.duckdb, "warehouse.target": "duckdb"}
        )
    path = settings.path("eval.set_path")
    titles = load_set(path)[0] if args.keep_inputs else warehouse_inputs(Warehouse(settings))
    try:
        data = build_set(
            titles, read_labels(settings.path("eval.labels_path")), ScoreBands.from_settings(settings)
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{path}: {len(data['titles'])} titles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
