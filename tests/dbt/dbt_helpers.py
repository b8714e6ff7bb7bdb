"""Run the project's dbt commands in-process, the way the pipeline does."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.config import PROJECT_ROOT
from core.environ import environ

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

# The two builds the pipeline runs around the enrichment step (see dbt_project/README.md).
BEFORE_ENRICHMENT = ["build", "--select", "+titles_enrichment_input", "--exclude", "test_type:unit"]
# The vibe_tags seed rides along, as in the pipeline's dbt_marts step: the mart's csv_items_accepted test reads it.
AFTER_ENRICHMENT = [
    "build", "--select", "stg_enrichment__title_enrichments+", "vibe_tags", "--exclude", "test_type:unit"
]
UNIT_TESTS = ["test", "--select", "test_type:unit"]

MART_COLUMNS = [
    "id", "title", "content_type", "streaming_platforms", "release_year", "release_date_text",
    "detail_url", "source_genres", "imdb_rating", "rotten_tomatoes_rating", "synopsis", "cast_members",
    "directors", "duration_text", "maturity_rating", "language", "country", "scraped_reviews",
    "llm_review_summary", "llm_generated_score", "llm_generated_vibe_tags", "llm_generated_primary_genre",
    "llm_generated_secondary_genres", "data_ingestion_timestamp", "source_data_hash",
    "enrichment_provider", "enrichment_model", "prompt_version",
]


class DbtFailed(AssertionError):
    """A dbt command did not succeed; the message lists the failing nodes."""


def run_dbt(args: list[str], *, target: str, work_dir: Path, env: Mapping[str, str] | None = None,
            check: bool = True) -> Any:
    """``dbt <args>`` on the project with its own profiles; artifacts and logs under ``work_dir``."""
    from dbt.cli.main import dbtRunner

    full = [
        *args,
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target", target,
        "--target-path", str(work_dir / "target"),
        "--log-path", str(work_dir / "logs"),
        "--quiet",
    ]
    with environ({"DBT_SEND_ANONYMOUS_USAGE_STATS": "False", **(env or {})}):
        result = dbtRunner().invoke(full)
    if check and not result.success:
        failures = []
        for node in getattr(result.result, "results", None) or []:
            if str(node.status) not in ("success", "pass"):
                failures.append(f"{node.node.unique_id}: {node.status} {node.message}")
        raise DbtFailed(f"dbt {' '.join(args)} failed: {result.exception or ''} {failures}")
    return result
