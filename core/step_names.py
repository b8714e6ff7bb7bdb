"""The names of the daily job's steps: their one owner.

``trending_now.pipeline.STEPS`` orders them; each step reports its result under its name, the DAG names its
task (or task group) after it, the abnormal-day rules and the run report find a step's record by it, and the
dbt selections are keyed by it. Standard library only, so every layer can read it.
"""

from __future__ import annotations

EXTRACT_RELEASES = "extract_releases"
CHECK_FRESHNESS = "check_freshness"
DBT_TITLES = "dbt_titles"
EXTRACT_REVIEWS = "extract_reviews"
DBT_STAGING_INTERMEDIATE = "dbt_staging_intermediate"
ENRICH_TITLES = "enrich_titles"
DBT_MARTS = "dbt_marts"
VALIDATE_MART = "validate_mart"
PUBLISH_MART = "publish_mart"
EXPORT_PARQUET = "export_parquet"
SNAPSHOT_DVC = "snapshot_dvc"
