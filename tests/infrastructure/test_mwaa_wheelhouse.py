"""The requirements file MWAA installs from plugins.zip, read with the MWAA image's own rules.

The wheels themselves, the offline resolution for CPython 3.12 and the install on the local Python are
`make mwaa-check` (CI job mwaa): they download. These are the rules of the file.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from mwaa_wheelhouse import (  # noqa: E402
    CONSTRAINT_LINE,
    ESSENTIAL,
    LOCK,
    MWAA_CONSTRAINT_SCAN,
    PLUGINS_DIR,
    image_rule_problems,
    pins,
    requirements_text,
)

TEXT = requirements_text()


def test_the_file_installs_from_the_plugins_wheelhouse_only() -> None:
    lines = TEXT.splitlines()
    assert "--no-index" in lines
    assert f"--find-links {PLUGINS_DIR}/wheels" in lines
    assert PLUGINS_DIR == "/usr/local/airflow/plugins"  # where MWAA unpacks plugins.zip


def test_the_constraint_decision_is_the_one_line_the_image_finds() -> None:
    """user_requirements.py adds the full Airflow constraints unless a line matches `-c `/`--constraint `:
    only the deliberate line may match (not a comment's wording), and its reason is written above it."""
    found = [line for line in TEXT.splitlines() if MWAA_CONSTRAINT_SCAN.search(line)]
    assert found == [CONSTRAINT_LINE]
    reason = TEXT.split(CONSTRAINT_LINE, 1)[0].rsplit("--find-links", 1)[1]
    assert "full Airflow constraints" in reason and "essential constraints" in reason


def test_the_file_pins_exactly_the_lock() -> None:
    assert pins(TEXT) == pins(LOCK.read_text(encoding="utf-8"))
    assert not re.search(r"^\s*#.*(-c |--constraint )", TEXT, re.M)


def test_the_image_rules_hold_for_the_file() -> None:
    assert image_rule_problems(TEXT) == []


def test_a_file_without_the_line_gets_the_full_constraints() -> None:
    without = TEXT.replace(f"{CONSTRAINT_LINE}\n", "")
    assert any("constraint scan" in problem for problem in image_rule_problems(without))


def test_a_comment_that_matches_the_scan_is_refused() -> None:
    """The old lock passed the scan through uv's header comment: that is what this file must not do."""
    with_header = "#    uv pip compile x --constraint y\n" + TEXT
    assert any("constraint scan" in problem for problem in image_rule_problems(with_header))


def test_a_pin_that_overrides_an_essential_constraint_is_refused() -> None:
    celery = pins(ESSENTIAL.read_text(encoding="utf-8"))["celery"]
    moved = TEXT.replace(f"celery=={celery}\n", "celery==0.0.1\n")
    assert moved != TEXT
    assert any(problem.startswith("celery==0.0.1") for problem in image_rule_problems(moved))


def test_an_online_file_is_refused() -> None:
    online = TEXT.replace("--no-index\n", "")
    assert any("--no-index" in problem for problem in image_rule_problems(online))


def test_plugins_zip_holds_the_plugins_folder_at_its_root_and_the_wheels_under_wheels(tmp_path: Path) -> None:
    """MWAA unpacks plugins.zip into its plugins folder, which Airflow puts on ``sys.path``: the repo's
    plugins/ files (airflow_local_settings.py) at the zip's root, the wheels under ``wheels/``."""
    import zipfile

    from mwaa_wheelhouse import PLUGINS_FOLDER, WHEELS, write_plugins_zip

    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    (wheelhouse / "pkg-1.0-py3-none-any.whl").write_bytes(b"PK wheel bytes")
    plugins = write_plugins_zip(tmp_path / "plugins.zip", wheelhouse)
    with zipfile.ZipFile(plugins) as archive:
        names = archive.namelist()
        local_settings = archive.read("airflow_local_settings.py")
    assert names == ["airflow_local_settings.py", f"{WHEELS}/pkg-1.0-py3-none-any.whl"]
    assert local_settings == (PLUGINS_FOLDER / "airflow_local_settings.py").read_bytes()
