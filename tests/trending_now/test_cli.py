"""CLI surface: help, argument errors, one-line failures with non-zero exit."""

from __future__ import annotations

import pytest

from trending_now import cli


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "demo", "extract", "transform", "enrich", "validate", "export", "snapshot", "report"):
        assert f"    {command}" in out


@pytest.mark.parametrize("argv", [["run", "--as-of", "2026-13-01"], ["run", "--days", "0"], ["run", "--limit", "x"]])
def test_bad_arguments_exit_2_with_a_message(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert "error: argument" in capsys.readouterr().err


def test_config_error_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("APP_ENV", "qa")
    assert cli.main(["report"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: config: APP_ENV='qa'") and err.count("\n") == 1


def test_step_selection() -> None:
    parser = cli.build_parser()
    names = lambda argv: [s.name for s in cli.selected_steps(parser.parse_args(argv))]  # noqa: E731
    assert names(["extract"]) == ["extract_releases", "check_freshness", "dbt_titles", "extract_reviews"]
    assert names(["extract", "--only", "reviews"]) == ["dbt_titles", "extract_reviews"]
    assert names(["extract", "--only", "releases"]) == ["extract_releases"]
    assert names(["transform", "--layer", "marts"]) == ["dbt_marts"]
    assert names(["run"])[0] == "extract_releases" and names(["run"])[-1] == "snapshot_dvc"
    assert names(["enrich"]) == ["enrich_titles"]


def test_unknown_country_fails_with_one_line_before_any_request(monkeypatch: pytest.MonkeyPatch, tmp_path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from tests.fakes.justwatch_server import FakeJustWatch

    with FakeJustWatch({}) as fake:
        monkeypatch.setenv("TRENDING_NOW__JUSTWATCH__GRAPHQL_URL", fake.url)
        monkeypatch.setenv("TRENDING_NOW__WAREHOUSE__DUCKDB_PATH", str(tmp_path / "w.duckdb"))
        code = cli.main(["extract", "--only", "releases", "--country", "US,ZZ", "--as-of", "2026-11-20", "-q"])
        assert fake.total_requests == 0
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("error: config: country: unknown country code(s) ZZ:")
    assert not (tmp_path / "w.duckdb").exists()
