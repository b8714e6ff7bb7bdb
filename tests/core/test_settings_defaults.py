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
READS = {"get", "require", "path", "typed_at"}  # Settings' reads by a dotted key (the rest is settings.typed)


def _declared(key: str, base: dict[str, Any]) -> bool:
    node: Any = base
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _setting_reads() -> Iterator[tuple[str, str, int]]:
    """(file:line, key, number of arguments) of every ``.get``/``.require``/``.path``/``.typed_at`` with a dotted
    key, and of every key a caller names as the run lock's timeout (``timeout_setting="run.deploy_..."``)."""
    files = [p for pkg in (*project_packages(), "dags") for p in sorted((ROOT / pkg).rglob("*.py"))]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg == "timeout_setting" and isinstance(value, ast.Constant) and DOTTED.match(value.value):
                    yield f"{path.relative_to(ROOT)}:{node.lineno}", value.value, 1
            if not isinstance(node.func, ast.Attribute) or node.func.attr not in READS or not node.args:
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and DOTTED.match(first.value):
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                yield where, first.value, len(node.args) + len(node.keywords)


def test_every_setting_read_is_declared_in_base_yaml_without_a_default_in_code() -> None:
    base = yaml.safe_load((ROOT / "config" / "base.yaml").read_text(encoding="utf-8"))
    reads = list(_setting_reads())
    found = {key for _, key, _ in reads}
    assert len(reads) > 30 and {"dbt.project_dir", "airflow.lock_timeout_s"} <= found, "the scan found the reads"
    undeclared = [f"{where} {key}" for where, key, _ in reads if not _declared(key, base)]
    defaulted = [f"{where} {key}" for where, key, args in reads if args > 1 and _declared(key, base)]
    assert not undeclared, "settings read but not declared in config/base.yaml:\n" + "\n".join(undeclared)
    assert not defaulted, "defaults belong in config/base.yaml, not in code:\n" + "\n".join(defaulted)


def _is_settings_class(node: ast.ClassDef, sections: set[str]) -> bool:
    """A class built from the settings: it has a ``from_settings`` constructor or extends a section model."""
    builds = any(isinstance(item, ast.FunctionDef) and item.name == "from_settings" for item in node.body)
    bases = {base.id if isinstance(base, ast.Name) else getattr(base, "attr", "") for base in node.bases}
    return builds or bool(bases & sections)


def _field_defaults(node: ast.ClassDef) -> Iterator[tuple[int, str]]:
    """(line, field) of every field declared with a default (``x: int = 5``, ``Field(default=...)``)."""
    for item in node.body:
        if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None):
            continue
        if "ClassVar" in ast.unparse(item.annotation):
            continue
        yield item.lineno, item.target.id


def _settings_classes() -> Iterator[tuple[Path, ast.ClassDef]]:
    files = [p for pkg in (*project_packages(), "dags") for p in sorted((ROOT / pkg).rglob("*.py"))]
    trees = [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in files]
    sections = {"BaseModel"}  # the schema's models, then whatever extends one of them (to a fixed point)
    schema = ast.parse((ROOT / "core" / "settings_schema.py").read_text(encoding="utf-8"))
    sections |= {node.name for node in ast.walk(schema) if isinstance(node, ast.ClassDef)}
    sections |= {"ReviewsSection"}  # built with pydantic.create_model from the review sources
    for path, tree in trees:
        for node in ast.walk(tree):
            is_schema = path.name == "settings_schema.py" and isinstance(node, ast.ClassDef)
            if isinstance(node, ast.ClassDef) and (is_schema or _is_settings_class(node, sections - {"BaseModel"})):
                yield path, node


def test_no_settings_model_or_dataclass_declares_a_default() -> None:
    classes = list(_settings_classes())
    names = {node.name for _, node in classes}
    for expected in ("ReviewsSettings", "JustWatchSettings", "RunnerConfig", "GeminiConfig", "AppSettings"):
        assert expected in names, f"the scan found {expected}"
    defaulted = [
        f"{path.relative_to(ROOT)}:{line} {node.name}.{field}"
        for path, node in classes
        for line, field in _field_defaults(node)
    ]
    assert not defaulted, "defaults belong in config/base.yaml, not in a settings class:\n" + "\n".join(defaulted)


def test_every_key_of_base_yaml_is_a_field_of_its_section_model() -> None:
    from core.config import parse_settings

    base = yaml.safe_load((ROOT / "config" / "base.yaml").read_text(encoding="utf-8"))
    typed = parse_settings("dev", root=ROOT, environ={}).typed.model_dump()

    def keys(node: Any, prefix: str = "") -> set[str]:
        if not isinstance(node, dict):
            return {prefix}
        return {k for key, value in node.items() for k in keys(value, f"{prefix}.{key}" if prefix else key)}

    free = {"airflow.timeouts_min", "eval.tolerances"}  # maps whose keys are data (task ids, metrics)
    assert {k for k in keys(base) if not k.startswith(tuple(free))} == {
        k for k in keys(typed) if not k.startswith(tuple(free))
    }
