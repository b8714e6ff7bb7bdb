"""`trending-now run` with a revoked Gemini key: one call, exit 1, one line naming the cause, no secret.

The whole job runs through the CLI in a subprocess (as a user or the scheduler runs it) on the recorded
samples served by the replay server, with the real google-genai SDK talking to the local Gemini fake, which
answers the revoked key the way the live API does (400 INVALID_ARGUMENT, ErrorInfo API_KEY_INVALID).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.gemini_server import FakeGemini
from tests.reliability.conftest import FaultyReplay, gemini_overrides, new_project

pytestmark = pytest.mark.slow
REVOKED = "AIzaSyREVOKEDkey-for-the-cli-test-0001"
CAUSE = (
    "error: enrich_titles: Gemini rejected the API key (API_KEY_INVALID): check GEMINI_API_KEY "
    "(.env in dev, the Secrets Manager secret elsewhere)"
)


@pytest.fixture
def replay() -> Iterator[FaultyReplay]:
    with FaultyReplay() as server:
        yield server


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


def test_run_with_a_revoked_key_exits_1_with_one_line(
    tmp_path: Path, replay: FaultyReplay, fake_gemini: FakeGemini
) -> None:
    fake_gemini.revoked_keys.add(REVOKED)
    project = new_project(tmp_path, replay, **gemini_overrides(fake_gemini), **{"enrich.concurrency": 4})
    project.secrets["GEMINI_API_KEY"] = REVOKED

    cli = project.cli("run")
    assert cli.wait() == 1, cli.stderr
    errors = [line for line in cli.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [CAUSE]
    assert REVOKED not in cli.stderr + cli.stdout
    assert fake_gemini.call_count == 1  # stopped at the first answer, not one call per title

    warehouse = project.context().warehouse
    runs = {r["step"]: r for r in warehouse.fetch_all("select step, status, error, details from ops.pipeline_runs")}
    # the step failed with the cause; nothing after it ran
    assert (runs["enrich_titles"]["status"], runs["enrich_titles"]["error"], "dbt_marts" in runs) == (
        "failed", CAUSE.removeprefix("error: "), False)
