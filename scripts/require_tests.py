"""pytest plugin for CD's test steps: a green step means every selected test ran and passed.

pytest exits 0 when every test skipped (e.g. the deployed Airflow's URL or token is missing), so a
deploy could "pass" its integration tests having tested nothing. Loaded with
``python -m pytest -p scripts.require_tests --expected-tests N ...``, the session fails unless

- exactly N tests were selected (fewer: a test fell out of the selection, e.g. a marker lost or a module
  no longer collected; more: a test was added and the step's count must follow it),
- each of them ran and passed (none skipped, none deselected after collection, none missing),
- no xfail / xpass hides a result either.

Only the controller decides (under pytest-xdist the workers report to it).
"""

from __future__ import annotations

import pytest

_collected: list[str] = []
_passed: set[str] = set()
_not_run: list[str] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--expected-tests",
        type=int,
        default=None,
        metavar="N",
        help="require_tests (required): fail unless exactly N tests were selected and all of them passed",
    )


def pytest_collection_finish(session: pytest.Session) -> None:
    _collected[:] = [item.nodeid for item in session.items]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped or hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _not_run.append(f"{report.nodeid} ({report.when}: {reason})")
    elif report.when == "call" and report.passed:
        _passed.add(report.nodeid)


def problems(collected: list[str], passed: set[str], not_run: list[str], expected: int | None) -> list[str]:
    """Why the session must fail (empty when the expected number of tests were selected, ran and passed)."""
    found = []
    if expected is None:
        found.append("--expected-tests N is required: the number of tests this step must run")
    elif len(collected) != expected:
        found.append(f"{len(collected)} test(s) selected, {expected} expected (--expected-tests)")
    found += [f"did not run: {item}" for item in not_run]
    reported = " ".join(not_run)
    found += [
        f"did not pass: {nodeid}" for nodeid in collected if nodeid not in passed and nodeid not in reported
    ]
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return
    lines = problems(_collected, _passed, _not_run, session.config.getoption("expected_tests"))
    if not lines:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for line in ["require_tests: this step must run every selected test", *lines]:
        if reporter is not None:
            reporter.write_line(line, red=True)
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
