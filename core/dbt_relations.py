"""Where dbt builds a model: the relation ``schema.name`` Python reads it from.

dbt decides a model's schema with ``dbt_project/macros/generate_schema_name.sql``: on the pipeline's
warehouse targets (the dbt var ``shared_schema_targets``: ``duckdb``, ``postgres``, ``redshift``) a model goes
to exactly its custom schema (``staging``, ``intermediate``, ``marts``, ``marts_audit``); on any other target
(``dev``, ``ci``) to ``<target schema>_<custom schema>``, so a developer's or CI's build never writes into the
tables the pipeline publishes. :func:`relation` applies the same rule to the same configuration (the
model's own ``config(schema=...)``, else its folder's ``+schema`` in dbt_project.yml); every Python reader
names a dbt model through it, and tests/dbt/test_dbt_relations.py holds it equal to dbt's manifest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from core.config import PROJECT_ROOT, YAML_LOADER, Settings

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
# Non-secret variables every dbt invocation gets: the CLI's (core.dbt_runner) and the DAG's (dags/dbt_groups.py)
DBT_ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}


def dbt_folder(settings: Settings, name: str) -> Path:
    """``dbt.target_path`` or ``dbt.log_path`` (``name``: target, log), else ``<dbt.project_dir>/target|logs``."""
    key = f"dbt.{name}_path"
    default = settings.path("dbt.project_dir") / ("target" if name == "target" else "logs")
    return settings.path(key) if settings.get(key) else default


_SQL_SCHEMA = re.compile(r"""config\((?:[^()]|\([^()]*\))*?\bschema\s*=\s*['"](\w+)['"]""", re.S)


@dataclass(frozen=True)
class Relation:
    schema: str
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


@cache
def _project(project_dir: Path) -> dict[str, Any]:
    return yaml.load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"), Loader=YAML_LOADER)


def _yml_models(path: Path) -> list[dict[str, Any]]:
    """The ``models:`` entries of one properties file (libyaml's parser: read by every DAG parse)."""
    return (yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER) or {}).get("models") or []


def project_name(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """The dbt project's ``name`` (dbt_project.yml)."""
    return str(_project(project_dir)["name"])


def profile_name(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """The profile the dbt project runs with (``profile`` in dbt_project.yml)."""
    return str(_project(project_dir)["profile"])


def dbt_vars(project_dir: Path = DBT_PROJECT_DIR) -> dict[str, Any]:
    """The ``vars`` of dbt_project.yml: the bounds and vocabularies dbt's tests, the edge rules
    (core/raw_spec.py) and the Great Expectations gate (core/mart_schema.py) share."""
    return dict(_project(project_dir).get("vars") or {})


def shared_schema_targets(project_dir: Path = DBT_PROJECT_DIR) -> tuple[str, ...]:
    """The targets whose models go to exactly their custom schema (the dbt var ``shared_schema_targets``)."""
    return tuple(_project(project_dir)["vars"]["shared_schema_targets"])


def schema_name(
    custom_schema: str | None, target_name: str, target_schema: str, project_dir: Path = DBT_PROJECT_DIR
) -> str:
    """generate_schema_name.sql in Python: the schema dbt builds a node with ``custom_schema`` into."""
    if custom_schema is None:
        return target_schema.strip()
    if target_name in shared_schema_targets(project_dir):
        return custom_schema.strip()
    return f"{target_schema.strip()}_{custom_schema.strip()}"


def _model_sql(model: str, project_dir: Path) -> Path:
    found = sorted((project_dir / "models").rglob(f"{model}.sql"))
    if not found:
        raise LookupError(f"dbt_project has no model {model}")
    return found[0]


def _yml_schema(model: str, folder: Path) -> str | None:
    for path in sorted(folder.glob("*.yml")):
        for entry in _yml_models(path):
            if entry.get("name") == model and (entry.get("config") or {}).get("schema"):
                return str(entry["config"]["schema"])
    return None


@cache
def custom_schema(model: str, project_dir: Path = DBT_PROJECT_DIR) -> str | None:
    """The model's custom schema: its ``config(schema=...)`` (SQL, then yml), else its folders' ``+schema``."""
    sql = _model_sql(model, project_dir)
    if match := _SQL_SCHEMA.search(sql.read_text(encoding="utf-8")):
        return match.group(1)
    if (from_yml := _yml_schema(model, sql.parent)) is not None:
        return from_yml
    config = _project(project_dir)["models"][_project(project_dir)["name"]]
    schema = config.get("+schema")
    for folder in sql.parent.relative_to(project_dir / "models").parts:
        config = config.get(folder) or {}
        schema = config.get("+schema", schema)
    return schema


@cache
def _declared_versions(project_dir: Path) -> dict[str, tuple[str, ...]]:
    """Every versioned model of the project's ymls -> its versions (one scan per process)."""
    found: dict[str, tuple[str, ...]] = {}
    for path in sorted((project_dir / "models").rglob("*.yml")):
        for entry in _yml_models(path):
            if entry.get("versions"):
                found[str(entry["name"])] = tuple(str(version["v"]) for version in entry["versions"])
    return found


def model_versions(model: str, project_dir: Path = DBT_PROJECT_DIR) -> tuple[str, ...]:
    """The versions a model declares (``versions: [{v: 1}, ...]`` in its folder's yml), empty when unversioned.

    dbt selects a versioned model by its name (every version) or ``<name>_v<v>``; Cosmos names its nodes
    ``<name>_v<v>`` only, so the DAG's groups select and exclude them by those names."""
    return _declared_versions(project_dir).get(model, ())


def relation(
    model: str, target_name: str = "duckdb", target_schema: str = "main", project_dir: Path = DBT_PROJECT_DIR
) -> Relation:
    """The relation dbt builds ``model`` into on ``target_name``. The pipeline's warehouses (DuckDB, PostgreSQL,
    Redshift) are shared-schema targets, so their readers need no target schema."""
    return Relation(
        schema_name(custom_schema(model, project_dir), target_name, target_schema, project_dir), model
    )
