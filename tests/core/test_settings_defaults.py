"""Defaults live in config/base.yaml only: code reads a setting without a default of its own.

Every ``<settings>.get("section.key", ...)`` / ``.require("section.key")`` in the project's code names a key
that base.yaml declares (a typo or an undeclared setting fails here), and passes no default for it
(a second copy of a default drifts: one had said 0 retries where base.yaml says 2).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from mwaa_bundle import project_packages  # noqa: E402

DOTTED = __import__("re").compile(r"^[a-z_]+(\.[a-z0-9_]+)+$")


def _declared(key: str, base: dict[str, Any]) -> bool:
    node: Any = base
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _setting_reads() -> Iterator[tuple[str, str, int]]:
    """(file:line, key, number of arguments) of every ``.get``/``.require``/``.path`` with a dotted key."""
    files = [p for pkg in (*project_packages(), "dags") for p in sorted((ROOT / pkg).rglob("*.py"))]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in {"get", "require", "path"} or not node.args:
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and DOTTED.match(first.value):
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                yield where, first.value, len(node.args) + len(node.keywords)


def test_every_setting_read_is_declared_in_base_yaml_without_a_default_in_code() -> None:
    base = yaml.safe_load((ROOT / "config" / "base.yaml").read_text(encoding="utf-8"))
    reads = list(_setting_reads())
    assert len(reads) > 50, "the scan found the settings reads"
    undeclared = [f"{where} {key}" for where, key, _ in reads if not _declared(key, base)]
    defaulted = [f"{where} {key}" for where, key, args in reads if args > 1 and _declared(key, base)]
    assert not undeclared, "settings read but not declared in config/base.yaml:\n" + "\n".join(undeclared)
    assert not defaulted, "defaults belong in config/base.yaml, not in code:\n" + "\n".join(defaulted)
