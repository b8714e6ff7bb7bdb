"""Assert that the latest run recorded in the demo warehouse was a no-op: every step ok, 0 LLM calls, and
an export byte-identical to the previous run's (the export holds every mart row and column, timestamps
included, so an unchanged file means 0 changed mart rows). Reads `trending-now report --json`."""

from __future__ import annotations

import json
import subprocess
import sys


def main() -> int:
    out = subprocess.run(
        [".venv/bin/trending-now", "report", "--json"], check=True, capture_output=True, text=True
    ).stdout
    steps = {row["step"]: row for row in json.loads(out)}
    problems = [f"{name} ended {row['status']}" for name, row in steps.items() if row["status"] != "ok"]
    llm_calls = sum(int(row.get("llm_calls") or 0) for row in steps.values())
    if llm_calls:
        problems.append(f"{llm_calls} LLM call(s)")
    export = steps.get("export_parquet")
    if export is None:
        problems.append("no export_parquet step recorded")
    elif export["details"].get("changed"):
        problems.append(f"the export changed (md5 {export['details'].get('md5')})")
    publish = steps.get("publish_mart")
    if publish is not None and publish["details"].get("changed_rows"):
        problems.append(f"{publish['details']['changed_rows']} mart row(s) changed")
    if problems:
        print("second demo run was not a no-op: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(f"second demo run was a no-op: {len(steps)} steps ok, 0 LLM calls, export unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
