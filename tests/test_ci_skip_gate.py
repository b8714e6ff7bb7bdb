"""tests/conftest.py's CI skip gate: under ``CI=true`` a skip fails the run unless tests/skip_allowlist.txt
names it, whether it happens while a test runs or while a module is collected.

Each case runs pytest in a subprocess on a tiny test folder that loads the gate (``-p tests.conftest``) and
points it at its own allowlist.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = {
    "test_runs.py": "def test_runs():\n    pass\n",
    "test_importorskip.py": 'import pytest\n\npytest.importorskip("no_such_module_4711")\n\n\ndef test_x():\n    pass\n',
    "test_module_skip.py": 'import pytest\n\npytest.skip("no device", allow_module_level=True)\n\n\ndef test_x():\n    pass\n',
    "test_runtime_skip.py": 'import pytest\n\n\ndef test_skips():\n    pytest.skip("no token")\n',
}
CONFTEST = """
from pathlib import Path

import tests.conftest as gate

gate.SKIP_ALLOWLIST = Path(__file__).with_name("allowlist.txt")
"""


def _pytest(
    tmp_path: Path, modules: list[str], allowlist: str = "", ci: bool = True, *args: str
) -> subprocess.CompletedProcess[str]:
    for name in modules:
        (tmp_path / name).write_text(MODULES[name], encoding="utf-8")
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST), encoding="utf-8")
    (tmp_path / "allowlist.txt").write_text(allowlist, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    env["PYTHONPATH"] = str(ROOT)
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.conftest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rs",
            *args,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("module", "reason"),
    [
        ("test_importorskip.py", "could not import 'no_such_module_4711'"),
        ("test_module_skip.py", "no device"),
        ("test_runtime_skip.py", "no token"),
    ],
)
def test_an_unlisted_skip_fails_the_ci_run(tmp_path: Path, module: str, reason: str) -> None:
    result = _pytest(tmp_path, ["test_runs.py", module])
    print(result.stdout[-3000:])
    assert result.returncode == 1, result.stdout[-3000:]
    assert "CI=true and 1 test(s) skipped without an entry in allowlist.txt:" in result.stdout
    assert f"  {module}" in result.stdout and reason in result.stdout


def test_a_listed_skip_passes_and_without_ci_skips_pass(tmp_path: Path) -> None:
    modules = ["test_runs.py", "test_importorskip.py", "test_module_skip.py", "test_runtime_skip.py"]
    allowlist = "test_importorskip.py  # optional extra\ntest_module_skip.py  # needs a device\ntest_runtime_skip.py  # token\n"
    listed = _pytest(tmp_path, modules, allowlist)
    assert listed.returncode == 0, listed.stdout[-3000:]
    assert _pytest(tmp_path, modules, ci=False).returncode == 0


def test_a_collection_skip_fails_the_ci_run_under_xdist(tmp_path: Path) -> None:
    """CI runs with -n auto: the workers collect, the controller (which decides) must see the skip too."""
    result = _pytest(tmp_path, ["test_runs.py", "test_importorskip.py"], "", True, "-n", "2")
    assert result.returncode == 1, result.stdout[-3000:]
    assert "  test_importorskip.py" in result.stdout
