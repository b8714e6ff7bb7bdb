"""scripts/require_tests.py: CD's test steps fail when a selected test did not run and pass."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = """
import pytest

def test_one():
    pass

@pytest.mark.smoke
def test_two():
    pass

def test_three():
    {third}
"""


def _pytest(tmp_path: Path, third: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(textwrap.dedent(SAMPLE.format(third=third)), encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    smoke: x\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CI", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "scripts.require_tests", "-p", "no:cacheprovider", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_passes_when_every_selected_test_passed(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "pass", "--expected-tests", "3")
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("third", "args", "message"),
    [
        ("pytest.skip('no token')", ("--expected-tests", "3"), "did not run: test_sample.py::test_three"),
        ("pytest.xfail('later')", ("--expected-tests", "3"), "did not run: test_sample.py::test_three"),
        ("pass", ("--expected-tests", "4"), "3 test(s) selected, 4 expected (--expected-tests)"),
        (
            "pass",
            ("-m", "smoke", "--expected-tests", "3"),
            "1 test(s) selected, 3 expected (--expected-tests)",
        ),
        ("pass", ("-m", "integration", "--expected-tests", "3"), "0 test(s) selected, 3 expected"),
        ("pass", ("--expected-tests", "2"), "3 test(s) selected, 2 expected (--expected-tests)"),
        ("pass", (), "--expected-tests N is required"),
    ],
)
def test_fails_when_fewer_tests_ran(tmp_path: Path, third: str, args: tuple[str, ...], message: str) -> None:
    """A skip (pytest alone exits 0), fewer tests than expected (a marker lost), an empty selection (pytest
    alone exits 5), a count not updated after a test was added, or no count at all fails the step."""
    result = _pytest(tmp_path, third, *args)
    assert result.returncode == 1, result.stdout
    assert message in result.stdout, result.stdout


def test_a_failing_test_still_fails(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "assert False", "-m", "smoke or not smoke", "--expected-tests", "3")
    assert result.returncode == 1
    assert "did not pass: test_sample.py::test_three" in result.stdout
