"""PG* from .env, the parse-time loader without secrets, and TLS on every Redshift connection."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from core.config import PROJECT_ROOT, SECRET_NAMES, load_settings, parse_settings
from core.warehouse import Warehouse


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT / "config", root / "config")
    (root / ".env").write_text(
        "PGHOST=pg.from-dotenv\nPGPORT=6543\nPGUSER=dotenv_user\nPGDATABASE=dotenv_db\n"
        "PGPASSWORD=pg-dotenv-secret\nGEMINI_API_KEY=gemini-dotenv-secret\n"
    )
    return root


@pytest.fixture(autouse=True)
def _no_pg_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD"):
        monkeypatch.delenv(name, raising=False)


def test_pg_variables_in_dotenv_are_honoured(root: Path) -> None:
    settings = load_settings("dev", root=root, environ={}).with_overrides({"warehouse.target": "postgres"})
    params = Warehouse(settings).postgres_params()
    assert (params["host"], params["port"], params["user"], params["dbname"]) == (
        "pg.from-dotenv", 6543, "dotenv_user", "dotenv_db")
    assert params["password"] == "pg-dotenv-secret"
    assert "pg-dotenv-secret" in settings.secrets.values()  # scrubbed and masked like every secret
    assert Warehouse(settings).dbt_env()["PGHOST"] == "pg.from-dotenv"


def test_the_process_environment_wins_over_dotenv(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGHOST", "pg.from-env")
    monkeypatch.setenv("PGPASSWORD", "pg-env-secret")
    settings = load_settings("dev", root=root).with_overrides({"warehouse.target": "postgres"})
    params = Warehouse(settings).postgres_params()
    assert (params["host"], params["password"], params["user"]) == ("pg.from-env", "pg-env-secret", "dotenv_user")


def test_parse_settings_reads_no_secret(root: Path) -> None:
    settings = parse_settings("dev", root=root, environ={"GEMINI_API_KEY": "x" * 10})
    assert settings.secrets.names() == [] and settings.dotenv_defaults == {}
    assert settings.data == load_settings("dev", root=root, environ={}).data  # the same loader otherwise
    assert "PGPASSWORD" in SECRET_NAMES


def _redshift(root: Path, **overrides: str) -> Warehouse:
    settings = load_settings("dev", root=root, environ={"REDSHIFT_PASSWORD": "rs-secret-1234"})
    return Warehouse(settings.with_overrides({"warehouse.target": "redshift", "warehouse.redshift.host": "rs.example",
                                              **overrides}))


def test_redshift_requires_tls_and_verifies_the_host_with_a_ca(root: Path, tmp_path: Path) -> None:
    plain = _redshift(root)
    assert plain.redshift_params()["sslmode"] == "require"
    assert plain.dbt_env()["REDSHIFT_SSLMODE"] == "require"
    assert plain._redshift_ssl_query() == {"sslmode": "require"}
    ca = tmp_path / "redshift-ca-bundle.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    verified = _redshift(root, **{"warehouse.redshift.sslrootcert": str(ca)})
    assert verified.dbt_env()["REDSHIFT_SSLMODE"] == "verify-full"
    assert verified._redshift_ssl_query() == {"sslmode": "verify-full", "sslrootcert": str(ca)}
    credentials = verified.dlt_destination().config_params["credentials"]
    assert credentials["query"]["sslmode"] == "verify-full"


def test_the_dbt_profile_never_allows_plaintext_to_redshift() -> None:
    profile = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "profiles.yml").read_text())
    sslmode = profile["trending_now"]["outputs"]["redshift"]["sslmode"]
    assert sslmode == "{{ env_var('REDSHIFT_SSLMODE', 'require') }}"


def test_the_profile_env_table_names_what_profiles_yml_reads() -> None:
    """core.warehouse.PROFILE_ENV is the one list of the variables dbt_project/profiles.yml reads per server
    target: each of its names is read there."""
    from core.config import PROJECT_ROOT
    from core.warehouse import PROFILE_ENV

    profiles = (PROJECT_ROOT / "dbt_project" / "profiles.yml").read_text(encoding="utf-8")
    for target, names in PROFILE_ENV.items():
        for name in names.values():
            assert f"env_var('{name}'" in profiles, (target, name)
