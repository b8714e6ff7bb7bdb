"""Rebuild data/eval/eval_set.json from the enrichment inputs a demo run built from data/samples.

    .venv/bin/trending-now demo && .venv/bin/python scripts/build_eval_set.py

The set is committed: its inputs stay fixed while prompts and models change. Rebuild it only when the
samples change, and then re-accept the baselines (docs/evaluation.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import load_settings
from core.warehouse import Warehouse
from trending_now.evaluation import build_set


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duckdb", help="DuckDB file to read (default: warehouse.duckdb_path)")
    args = parser.parse_args()
    settings = load_settings("dev")
    if args.duckdb:
        settings = settings.with_overrides(
            {"warehouse.duckdb_path": args.duckdb, "warehouse.target": "duckdb"}
        )
    data = build_set(Warehouse(settings), float(settings.require("eval.score_margin")))
    path = settings.path("eval.set_path")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{path}: {len(data['titles'])} titles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
