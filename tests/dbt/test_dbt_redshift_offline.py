"""The Redshift target parses and compiles with no warehouse: nothing connects, and the compiled SQL uses
the portable JSON building (listagg) and is_valid_json instead of DuckDB/PostgreSQL functions."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.dbt.dbt_helpers import run_dbt

pytestmark = pytest.mark.slow


def test_parse_and_compile_redshift_offline(tmp_path: Path) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    env = {
        "REDSHIFT_HOST": "127.0.0.1", "REDSHIFT_PORT": str(listener.getsockname()[1]),
        "REDSHIFT_USER": "analyst", "REDSHIFT_PASSWORD": "not-a-real-password", "REDSHIFT_DATABASE": "trending_now",
    }
    try:
        run_dbt(["parse"], target="redshift", work_dir=tmp_path, env=env)
        run_dbt(["compile", "--no-introspect", "--no-populate-cache"], target="redshift", work_dir=tmp_path, env=env)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody tried to reach the "warehouse"
    finally:
        listener.close()

    compiled = tmp_path / "target" / "compiled" / "trending_now"
    credits = next(compiled.rglob("int_titles_credits_aggregated.sql")).read_text()
    assert "listagg(" in credits and "json_agg" not in credits and "to_json" not in credits
    mart = next(compiled.rglob("movies_tv_shows_enriched_audit.sql")).read_text()
    assert "varchar(65535)" in mart
    valid_json_tests = [p.read_text() for p in compiled.rglob("valid_json_*.sql")]
    assert valid_json_tests and all("is_valid_json_array(" in sql for sql in valid_json_tests)
    manifest = (tmp_path / "target" / "manifest.json").read_text()
    assert '"varchar(65535)"' in manifest  # the enforced contract's string type on Redshift
