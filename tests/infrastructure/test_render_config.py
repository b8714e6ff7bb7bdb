"""infrastructure/scripts/render_config.py writes Terraform outputs into config/<env>.yaml."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _load() -> Any:
    spec = importlib.util.spec_from_file_location(
        "render_config", ROOT / "infrastructure" / "scripts" / "render_config.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render_config = _load()

OUTPUTS = {
    "warehouse__redshift__host": {
        "value": "trending-now-staging.123456789012.us-east-1.redshift-serverless.amazonaws.com"
    },
    "warehouse__redshift__port": {"value": 5439},
    "warehouse__redshift__database": {"value": "trending_now"},
    "warehouse__redshift__iam_role_arn": {
        "value": "arn:aws:iam::123456789012:role/trending-now-staging-redshift-copy"
    },
    "warehouse__redshift__staging_bucket_url": {
        "value": "s3://trending-now-staging-raw-123456789012/dlt-staging"
    },
    "dvc__s3_url": {"value": "s3://trending-now-staging-dvc-123456789012/trending-now"},
    "secrets__aws_secret_id": {"value": "trending-now/staging"},
    "aws__region": {"value": "us-east-1"},
    "airflow__dags_bucket": {"value": "airflow-trending-now-staging-123456789012"},
    "mwaa_environment_name": {"value": "trending-now-staging"},
    "bucket_names": {"value": {"raw": "x"}},
}


def test_output_names_map_to_config_keys() -> None:
    assert render_config.output_name("warehouse.redshift.host") == "warehouse__redshift__host"
    assert render_config.config_key("dvc__s3_url") == "dvc.s3_url"
    assert render_config.config_key("mwaa_environment_name") is None


def test_render_keeps_the_other_keys(tmp_path: Path) -> None:
    config = tmp_path / "staging.yaml"
    config.write_text(
        "warehouse:\n  target: redshift\n  redshift:\n    host: null\n    user: trending_now\n"
        "secrets:\n  source: aws\n  aws_secret_id: old\nenrich:\n  provider: gemini\n",
        encoding="utf-8",
    )
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(OUTPUTS), encoding="utf-8")

    assert render_config.main(["--outputs", str(outputs), "--config", str(config)]) == 0
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    redshift = data["warehouse"]["redshift"]
    assert {
        "target": data["warehouse"]["target"],
        "user": redshift["user"],
        "port": redshift["port"],
        "secrets": data["secrets"],
        "region": data["aws"]["region"],
        "provider": data["enrich"]["provider"],
        "host": redshift["host"].endswith("redshift-serverless.amazonaws.com"),
        "staging_bucket_url": redshift["staging_bucket_url"].endswith("/dlt-staging"),
        "dvc": data["dvc"]["s3_url"].startswith("s3://"),
        "dags_bucket": data["airflow"]["dags_bucket"].startswith("airflow-"),
        "outputs only": sorted({"mwaa_environment_name", "bucket_names"} & set(data)),
    } == {
        "target": "redshift",
        "user": "trending_now",
        "port": 5439,
        "secrets": {"source": "aws", "aws_secret_id": "trending-now/staging"},
        "region": "us-east-1",
        "provider": "gemini",
        "host": True,
        "staging_bucket_url": True,
        "dvc": True,
        "dags_bucket": True,
        "outputs only": [],
    }


@pytest.mark.parametrize("missing", ["warehouse__redshift__host", "dvc__s3_url"])
def test_missing_or_null_outputs_fail(
    tmp_path: Path, missing: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = dict(OUTPUTS)
    outputs[missing] = {"value": None}
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs), encoding="utf-8")
    config = tmp_path / "c.yaml"
    assert render_config.main(["--outputs", str(path), "--config", str(config)]) == 1
    assert missing in capsys.readouterr().err
    assert not config.exists()


def test_a_scalar_in_the_way_is_an_error() -> None:
    with pytest.raises(render_config.RenderError):
        render_config.render(OUTPUTS, {"warehouse": "duckdb"})
