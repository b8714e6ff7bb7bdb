"""Shared helpers for the benchmarks in bench/: the machine-facts header and writing bench/results/<name>.md.

The leading underscore keeps ``make bench`` (``for b in bench/bench_*.py``) from running this module.

    from _common import write_result          # bench/ is on sys.path when a bench runs as a script
    write_result("reviews", "Review fetching", table_md, notes="...")
"""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
PACKAGES = ("dlt", "duckdb", "dbt-core", "google-genai", "pyarrow")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def machine_facts() -> dict[str, str]:
    ram = ram_gib()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "CPU": cpu_model(),
        "cores": f"{os.cpu_count()} logical ({usable} usable by this process)",
        "RAM": f"{ram:.1f} GiB" if ram is not None else "unknown",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        **package_versions(),
    }


def machine_header() -> str:
    """A Markdown block naming the machine and the versions a result was measured with."""
    facts = machine_facts()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"Measured {when} on:", ""]
    lines += [f"- {key}: {value}" for key, value in facts.items()]
    return "\n".join(lines)


def write_result(name: str, title: str, table_md: str, notes: str = "", out: Path | None = None) -> Path:
    """Write ``bench/results/<name>.md`` (or ``out``): title, machine header, the table(s), then notes."""
    path = out or RESULTS_DIR / f"{name}.md"
    parts = [f"# {title.strip()}", machine_header(), table_md.strip()]
    if notes.strip():
        parts.append(notes.strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":  # `python bench/_common.py` shows the header
    sys.stdout.write(machine_header() + "\n")
