"""The config loader: base <- APP_ENV <- TRENDING_NOW__ overrides; .env in dev; Secrets Manager elsewhere."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.config import (
    ConfigError,
    Secrets,
    deep_merge,
    env_overrides,
    load_settings,
    parse_env_value,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    return tmp_path


def test_deep_merge_merges_nested_and_replaces_scalars_and_lists() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    merged = deep_merge(base, {"a": {"c": [3]}, "e": 2})
    assert merged == {"a": {"b": 1, "c": [3]}, "d": 1, "e": 2}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}  # input untouched


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("5", 5), ("2.5", 2.5), ("true", True), ("[nfx, amp]", ["nfx", "amp"]), ("gemini", "gemini"), ("", "")],
)
def test_parse_env_value(raw: str, expected: object) -> None:
    assert parse_env_value(raw) == expected


def test_env_overrides_nest_on_double_underscore() -> None:
    env = {"TRENDING_NOW__ENRICH__MAX_COST_USD": "2", "TRENDING_NOW__REVIEWS__TMDB__BASE_URL": "http://x", "PATH": "/"}
    assert env_overrides(env) == {"enrich": {"max_cost_usd": 2}, "reviews": {"tmdb": {"base_url": "http://x"}}}


def test_layers_apply_in_order(project: Path) -> None:
    dev = load_settings("dev", root=project, environ={})
    assert dev.get("warehouse.target") == "duckdb"
    assert dev.get("enrich.model") == "gemini-3.5-flash-lite"  # from base
    staging = load_settings(
        "staging", root=project,
        environ={"TRENDING_NOW__SECRETS__SOURCE": "dotenv", "TRENDING_NOW__WAREHOUSE__TARGET": "postgres"},
    )
    assert staging.get("dvc.remote") == "s3"  # staging.yaml beats base.yaml
    assert staging.get("warehouse.target") == "postgres"  # environment beats staging.yaml


def test_app_env_from_environment_and_unknown_env_is_a_clear_error(project: Path) -> None:
    assert load_settings(root=project, environ={"APP_ENV": "dev"}).env == "dev"
    with pytest.raises(ConfigError, match="APP_ENV='qa' is not one of dev, staging, prod"):
        load_settings(root=project, environ={"APP_ENV": "qa"})


def test_invalid_yaml_names_the_file(project: Path) -> None:
    (project / "config" / "dev.yaml").write_text("warehouse: [unclosed\n")
    with pytest.raises(ConfigError, match=r"dev\.yaml: invalid YAML"):
        load_settings("dev", root=project, environ={})


def test_dotenv_secrets_in_dev_and_environment_wins(project: Path) -> None:
    (project / ".env").write_text("GEMINI_API_KEY=from-dotenv-file\nTMDB_API_KEY=tmdb-from-file\n")
    settings = load_settings("dev", root=project, environ={"TMDB_API_KEY": "tmdb-from-env"})
    assert settings.secrets.get("GEMINI_API_KEY") == "from-dotenv-file"
    assert settings.secrets.get("TMDB_API_KEY") == "tmdb-from-env"
    assert "from-dotenv-file" not in repr(settings) and "tmdb-from-env" not in str(settings.secrets)


@pytest.mark.parametrize(
    ("environ", "line"),
    [
        ({"TRENDING_NOW__REVIEWS__TMDB__DAILY_BUDGET": "lots"},
         "settings: reviews.tmdb.daily_budget: Input should be a valid integer, unable to parse string as an integer"),
        ({"TRENDING_NOW__ENRICH__MAX_RETRY_WAIT_S": "5"}, "settings: enrich.max_retry_wait_s: Extra inputs are not permitted"),
        ({"TRENDING_NOW__JUSTWATCH__PAGE_SIZE": "150"}, "settings: justwatch.page_size: 150 is out of range"),
        ({"TRENDING_NOW__RUN__COUNTRIES": "US,XX"}, "settings: run.countries: unknown country code(s) XX"),
    ],
)
def test_a_wrong_type_or_unknown_key_fails_the_load_with_one_line_naming_it(
    project: Path, environ: dict[str, str], line: str
) -> None:
    with pytest.raises(ConfigError) as failure:
        load_settings("dev", root=project, environ=environ)
    assert str(failure.value).startswith(line) and "\n" not in str(failure.value)


def test_a_key_missing_from_base_yaml_fails_the_load(project: Path) -> None:
    base = project / "config" / "base.yaml"
    base.write_text(base.read_text(encoding="utf-8").replace("  budget_day: utc", ""), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^settings: reviews\.budget_day: Field required$"):
        load_settings("dev", root=project, environ={})


def test_require_names_the_setting_and_its_override(project: Path) -> None:
    settings = load_settings("dev", root=project, environ={})
    with pytest.raises(ConfigError, match="TRENDING_NOW__DVC__S3_URL"):
        settings.require("dvc.s3_url")


def test_relative_paths_resolve_against_the_root(project: Path) -> None:
    settings = load_settings("dev", root=project, environ={})
    assert settings.path("warehouse.duckdb_path") == project / "data/warehouse/trending_now.duckdb"


def test_secrets_repr_never_shows_values() -> None:
    secrets = Secrets({"GEMINI_API_KEY": "sk-very-secret"}, source="aws")
    assert "sk-very-secret" not in repr(secrets)
    assert secrets.values() == ["sk-very-secret"]


@pytest.fixture
def moto_endpoint(monkeypatch: pytest.MonkeyPatch):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    yield f"http://{host}:{port}"
    server.stop()


def test_staging_reads_secrets_from_aws_secrets_manager(project: Path, moto_endpoint: str) -> None:
    import boto3

    client = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=moto_endpoint)
    client.create_secret(
        Name="trending-now/staging",
        SecretString=json.dumps({"GEMINI_API_KEY": "gm-123456", "TMDB_API_KEY": "tm-123456", "EMPTY": ""}),
    )
    settings = load_settings("staging", root=project, environ={"TRENDING_NOW__AWS__ENDPOINT_URL": moto_endpoint})
    assert settings.secrets.source == "aws"
    assert settings.secrets.get("GEMINI_API_KEY") == "gm-123456"
    assert settings.secrets.get("TMDB_API_KEY") == "tm-123456"
    assert "EMPTY" not in settings.secrets


def test_missing_aws_secret_is_a_clear_error(project: Path, moto_endpoint: str) -> None:
    with pytest.raises(ConfigError, match="cannot read secret 'trending-now/prod' from AWS Secrets Manager"):
        load_settings("prod", root=project, environ={"TRENDING_NOW__AWS__ENDPOINT_URL": moto_endpoint})


def test_countries_are_parsed_validated_and_owned_by_base_yaml() -> None:
    from core.config import ConfigError, load_settings
    from core.countries import JUSTWATCH_COUNTRIES, configured_countries, parse_countries

    assert parse_countries(" us, GB,us ,de") == ("US", "GB", "DE")
    assert parse_countries(["FR", "ca"]) == ("FR", "CA")
    with pytest.raises(ConfigError, match=r"^country: unknown country code\(s\) XX, USA: "):
        parse_countries("US,XX,USA", where="country")
    with pytest.raises(ConfigError, match="no country given"):
        parse_countries(" , ")
    assert {"US", "GB", "DE", "FR", "CA"} <= JUSTWATCH_COUNTRIES
    assert configured_countries(load_settings("dev", environ={})) == ("US",)  # base.yaml's default
    env = {"TRENDING_NOW__RUN__COUNTRIES": "[GB, us]"}
    assert configured_countries(load_settings("dev", environ=env)) == ("GB", "US")


def test_dbt_countries_fallback_equals_the_setting_and_dbt_env_passes_the_runs() -> None:
    """dbt's var `countries` falls back to base.yaml's run.countries; a run passes its own (primary first)."""
    import re

    from core.countries import configured_countries
    from core.dbt_relations import dbt_vars
    from core.warehouse import Warehouse

    match = re.fullmatch(r"\{\{\s*env_var\('TRENDING_NOW__RUN__COUNTRIES',\s*'([A-Z,]+)'\)\s*\}\}",
                         dbt_vars()["countries"])
    assert match, dbt_vars()["countries"]
    base = load_settings("dev", environ={})
    assert tuple(match.group(1).split(",")) == configured_countries(base)
    run = base.with_overrides({"run.countries": ["GB", "US"]})
    assert Warehouse(run).dbt_env()["TRENDING_NOW__RUN__COUNTRIES"] == "GB,US"
