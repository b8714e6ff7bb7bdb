"""Shared helpers for the fault-injection suite.

Every case runs the real job (real clients, dlt, dbt, DuckDB/PostgreSQL) on the recorded samples, served by
:class:`FaultyReplay` - the replay server with hooks that block a request (so a test can SIGKILL the CLI
at a known point), answer garbage, or count requests. Kill cases run ``python -m trending_now`` in a
subprocess rooted in a throw-away project (``TRENDING_NOW_ROOT``); re-runs happen in-process through
``trending_now.pipeline.run_steps`` with the same settings, and the resulting warehouse state is compared
with a clean reference run (:func:`state_of`).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from core.config import PROJECT_ROOT, Settings, load_settings
from core.context import RunContext
from core.metrics import StepRecord
from core.replay import ReplayServer
from tests.conftest import DEMO_AS_OF, shared_across_workers
from tests.fakes.gemini_server import FakeGemini
from trending_now import pipeline

MART = "marts.movies_tv_shows_enriched"
# every step up to the published mart (write-audit-publish: build, test and gate the audit relation, publish)
UP_TO_MART = list(pipeline.STEP_NAMES[: pipeline.STEP_NAMES.index("publish_mart") + 1])


def step_line(name: str) -> str:
    """The CLI's progress line for step ``name`` of a full run, e.g. ``[3/10] extract_reviews``."""
    return f"[{pipeline.STEP_NAMES.index(name) + 1}/{len(pipeline.STEP_NAMES)}] {name}"


def step_tag(name: str) -> str:
    """``[i/n]`` of step ``name`` in a full run."""
    return step_line(name).split(" ")[0]
RAW_TABLES = (
    "raw_justwatch.titles",
    "raw_justwatch.quarantine",
    "raw_reviews.reviews",
    "raw_reviews.review_fetches",
    "raw_reviews.quarantine",
)
SUBPROCESS_TIMEOUT_S = 240
SAMPLES = PROJECT_ROOT / "data" / "samples"


# ---- the replay server with fault hooks ---------------------------------------------------------------
@dataclass
class Hook:
    """Applies to requests whose path starts with ``prefix`` (and, for JustWatch, whose ``date`` matches)."""

    prefix: str
    action: str  # "block" | "garbage" | "status"
    after: int = 0  # the hook fires from the (after+1)-th matching request on
    date: str | None = None
    body: bytes = b"<!doctype html><html><body>upstream hiccup</body></html>"
    status: int = 200
    seen: int = 0
    fired: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class FaultyReplay(ReplayServer):
    """:class:`ReplayServer` whose requests first go through a list of :class:`Hook` s."""

    def __init__(self, samples_dir: Path = SAMPLES) -> None:
        super().__init__(samples_dir)
        self.hooks: list[Hook] = []

    def add(self, hook: Hook) -> Hook:
        self.hooks.append(hook)
        return hook

    def block(self, prefix: str, after: int = 0) -> Hook:
        """Hold every request under ``prefix`` from the (after+1)-th on until the hook's ``release``."""
        return self.add(Hook(prefix=prefix, action="block", after=after))

    def clear(self) -> None:
        """Remove every hook and let the requests they hold go on."""
        with self._lock:
            hooks, self.hooks = self.hooks, []
        for hook in hooks:
            hook.release.set()

    def stop(self) -> None:
        self.clear()
        super().stop()

    def _match(self, path: str, body: Any) -> Hook | None:
        day = ((body or {}).get("variables") or {}).get("date") if isinstance(body, dict) else None
        with self._lock:
            for hook in self.hooks:
                if not path.startswith(hook.prefix) or (hook.date is not None and hook.date != day):
                    continue
                hook.seen += 1
                if hook.seen > hook.after:
                    return hook
        return None

    def _handler_class(self) -> type:
        base = super()._handler_class()
        server = self

        class Handler(base):  # type: ignore[valid-type,misc]
            def _hooked(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                self.rfile = io.BytesIO(raw)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                hook = server._match(urlsplit(self.path).path, body)
                if hook is not None:
                    hook.fired.set()
                    if hook.action == "block":
                        hook.release.wait(SUBPROCESS_TIMEOUT_S)
                    else:
                        self._respond(hook.status, {"Content-Type": "text/html"}, hook.body)
                        return
                base._serve(self)

            do_GET = _hooked
            do_POST = _hooked

        return Handler


# ---- a throw-away project root and its settings -------------------------------------------------------
def make_project(tmp: Path) -> Path:
    """config/ and .dvc/ copied, dbt_project/ symlinked: every relative data path lands under ``tmp``."""
    root = tmp / "project"
    root.mkdir(parents=True)
    shutil.copytree(PROJECT_ROOT / "config", root / "config")
    shutil.copytree(PROJECT_ROOT / ".dvc", root / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache"))
    (root / "dbt_project").symlink_to(PROJECT_ROOT / "dbt_project")
    return root


def override_env(values: Mapping[str, Any]) -> dict[str, str]:
    """``{"enrich.provider": "gemini"}`` -> ``{"TRENDING_NOW__ENRICH__PROVIDER": "gemini"}``."""
    return {
        "TRENDING_NOW__" + key.upper().replace(".", "__"): str(value) for key, value in values.items()
    }


@dataclass
class Project:
    """One throw-away project: its root, the replay server it talks to, and its config overrides."""

    root: Path
    server: FaultyReplay
    overrides: dict[str, Any]
    secrets: dict[str, str]

    def environ(self, extra: Mapping[str, Any] | None = None, secrets: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("TRENDING_NOW") and k not in ("APP_ENV", "GEMINI_API_KEY", "GOOGLE_API_KEY")
        }
        env.update(
            APP_ENV="dev",
            TRENDING_NOW_ROOT=str(self.root),
            DO_NOT_TRACK="1",
            DBT_SEND_ANONYMOUS_USAGE_STATS="False",
            RUNTIME__DLTHUB_TELEMETRY="false",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.secrets if secrets is None else secrets)
        env.update(override_env({**self.overrides, **(extra or {})}))
        return env

    def settings(self, extra: Mapping[str, Any] | None = None, secrets: Mapping[str, str] | None = None) -> Settings:
        """The settings the CLI would load with :meth:`environ` (same root, same overrides)."""
        return load_settings("dev", root=self.root, environ=self.environ(extra, secrets))

    def context(self, extra: Mapping[str, Any] | None = None, **kw: Any) -> RunContext:
        kw.setdefault("as_of", DEMO_AS_OF)
        kw.setdefault("quiet", True)
        return RunContext(settings=self.settings(extra), **kw)

    def run(self, steps: list[str] | None = None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run ``steps`` (default: up to the mart) in-process; returns ``{step: StepResult}``."""
        ctx = self.context(extra)
        records: list[StepRecord] = pipeline.run_steps(ctx, pipeline.steps_named(steps or UP_TO_MART))
        return {r.result.step: r.result for r in records}

    def cli(self, *args: str, extra: Mapping[str, Any] | None = None,
            secrets: Mapping[str, str] | None = None) -> CliProcess:
        return CliProcess.start(self.root.parent, [*args, "--as-of", DEMO_AS_OF.isoformat()],
                                self.environ(extra, secrets))


def new_project(tmp: Path, server: FaultyReplay, **overrides: Any) -> Project:
    """A project whose clients all talk to ``server``; heuristic enrichment unless overridden."""
    root = make_project(tmp)
    values: dict[str, Any] = {
        **server.settings_overrides(),
        "reviews.per_host_rps": 50,  # one local host serves every recorded site
        "dbt.target_path": str(tmp / "dbt-target"),
        "dbt.log_path": str(tmp / "dbt-logs"),
        "dvc.site_cache_dir": str(tmp / "dvc-site-cache"),
        "enrich.provider": "heuristic",
        "justwatch.backoff_base_s": 0.05,
        "reviews.backoff_base_s": 0.05,
    }
    values.update(overrides)
    # The recorded TMDB and Guardian answers need a key to be present, not a particular one.
    return Project(root, server, values, {"TMDB_API_KEY": "replay", "GUARDIAN_API_KEY": "replay"})


# ---- the CLI in a subprocess --------------------------------------------------------------------------
@dataclass
class CliProcess:
    proc: subprocess.Popen[bytes]
    stderr_path: Path
    stdout_path: Path

    @classmethod
    def start(cls, workdir: Path, args: list[str], env: dict[str, str]) -> CliProcess:
        stamp = f"{time.monotonic_ns()}"
        stderr_path = workdir / f"cli-{stamp}.err"
        stdout_path = workdir / f"cli-{stamp}.out"
        with open(stderr_path, "wb") as err, open(stdout_path, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "trending_now", *args], cwd=workdir, env=env, stdout=out, stderr=err,
                start_new_session=True,
            )
        return cls(proc, stderr_path, stdout_path)

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = SUBPROCESS_TIMEOUT_S) -> None:
        """Poll (0.1 s) until ``condition()``; fail with the CLI's stderr when it exits first or times out."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None:
                pytest.fail(f"the CLI exited ({self.proc.returncode}) before {what}:\n{self.stderr[-3000:]}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"timed out waiting for {what}:\n{self.stderr[-3000:]}")
            time.sleep(0.1)

    def wait_for_line(self, text: str, timeout: float = SUBPROCESS_TIMEOUT_S) -> None:
        self.wait_for(lambda: text in self.stderr, f"{text!r} on stderr", timeout)

    def kill(self) -> None:
        """SIGKILL the CLI's whole process group (dbt runs in-process, but be thorough)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def wait(self, timeout: float = SUBPROCESS_TIMEOUT_S) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the CLI did not finish in {timeout}s:\n{self.stderr[-3000:]}")


# ---- comparing warehouse states -----------------------------------------------------------------------
def _count(settings: Settings, table: str) -> int | None:
    from core.context import RunContext

    warehouse = RunContext(settings=settings, as_of=DEMO_AS_OF).warehouse
    schema, name = table.split(".")
    if not warehouse.table_exists(schema, name):
        return None
    return int(warehouse.fetch_all(f"select count(*) as n from {table}")[0]["n"])


def state_of(settings: Settings) -> dict[str, Any]:
    """What must converge: mart rows (minus ``data_ingestion_timestamp``), raw row counts, enrichment rows."""
    warehouse = RunContext(settings=settings, as_of=DEMO_AS_OF).warehouse
    mart = [
        {k: v for k, v in row.items() if k != "data_ingestion_timestamp"}
        for row in warehouse.fetch_all(f"select * from {MART} order by id")
    ]
    enrichments = warehouse.fetch_all(
        "select id, source_data_hash, prompt_version, model, provider, status, review_summary, score, "
        "vibe_tags, primary_genre, secondary_genres from raw_enrichment.title_enrichments "
        "where status = 'ok' order by id"
    )
    return {
        "mart": mart,
        "raw_counts": {table: _count(settings, table) for table in RAW_TABLES},
        "enrichments": enrichments,
    }


def _portable(value: Any) -> Any:
    """A value as DuckDB and PostgreSQL both give it: JSON text parsed, floats rounded."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def portable(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with every row made comparable across warehouses (see :func:`_portable`)."""
    return {
        **state,
        "mart": [{k: _portable(v) for k, v in row.items()} for row in state["mart"]],
        "enrichments": [{k: _portable(v) for k, v in row.items()} for row in state["enrichments"]],
    }


def assert_converged(actual: dict[str, Any], reference: dict[str, Any]) -> None:
    assert actual["raw_counts"] == reference["raw_counts"]
    assert [r["id"] for r in actual["mart"]] == [r["id"] for r in reference["mart"]]
    assert actual["mart"] == reference["mart"]
    assert actual["enrichments"] == reference["enrichments"]


def enrichment_ids(settings: Settings, status: str = "ok") -> list[str]:
    warehouse = RunContext(settings=settings, as_of=DEMO_AS_OF).warehouse
    if not warehouse.table_exists("raw_enrichment", "title_enrichments"):
        return []
    rows = warehouse.fetch_all(
        "select id from raw_enrichment.title_enrichments where status = ? order by id", [status]
    )
    return [r["id"] for r in rows]


# ---- shared fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def replay() -> Iterator[FaultyReplay]:
    with FaultyReplay() as server:
        yield server


@pytest.fixture
def server(replay: FaultyReplay) -> Iterator[FaultyReplay]:
    """The session's replay server, without hooks after the test."""
    replay.clear()
    yield replay
    replay.clear()


@dataclass
class Reference:
    """The clean run every case converges to, and copies of its warehouse to start cases from."""

    server: FaultyReplay  # this worker's replay server, which the cases' projects talk to
    state: dict[str, Any]
    results: dict[str, Any]
    mart_rows: list[dict[str, Any]]  # the published mart, every column
    before_enrich: Path  # data/warehouse after extract + dbt staging/intermediate
    with_mart: Path  # data/warehouse after the mart was built

    def project_from(self, tmp: Path, stage: Path, **overrides: Any) -> Project:
        """A new project whose warehouse starts as a copy of ``stage``."""
        project = new_project(tmp, self.server, **overrides)
        shutil.copytree(stage, project.root / "data" / "warehouse")
        return project


def _build_reference(folder: Path, replay: FaultyReplay) -> None:
    """The clean run into ``folder``: the warehouse before the enrichment and with the mart, and what the
    cases compare with (``reference.pickle``). Nothing in it names the replay server's port."""
    project = new_project(folder / "run", replay)
    results = project.run(UP_TO_MART[: UP_TO_MART.index("enrich_titles")])
    warehouse_dir = project.root / "data" / "warehouse"
    shutil.copytree(warehouse_dir, folder / "before-enrich")
    results.update(project.run(UP_TO_MART[UP_TO_MART.index("enrich_titles") :]))
    shutil.copytree(warehouse_dir, folder / "with-mart")
    state = state_of(project.settings())
    assert state["mart"] and results["enrich_titles"].rows_out == len(state["mart"])
    mart_rows = project.context().warehouse.fetch_all(f"select * from {MART} order by id")
    (folder / "reference.pickle").write_bytes(pickle.dumps((state, results, mart_rows)))


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory, replay: FaultyReplay) -> Reference:
    """One clean in-process run up to the mart (heuristic enrichment), built once for the whole session and
    shared by every xdist worker."""
    folder = shared_across_workers(tmp_path_factory, "reliability-reference", lambda f: _build_reference(f, replay))
    state, results, mart_rows = pickle.loads((folder / "reference.pickle").read_bytes())  # this session's own file
    return Reference(replay, state, results, mart_rows, folder / "before-enrich", folder / "with-mart")


# ---- the LLM ---------------------------------------------------------------------------------------------
GEMINI_KEY = "fake-gemini-key-for-the-reliability-suite"


class RateLimitedGemini(FakeGemini):
    """The fake Gemini server, which can also answer 429 to the next N calls (:meth:`rate_limit_next`): a
    count, not a wall-clock window, so the outcome never depends on how fast the machine is."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.limited_calls = 0
        self.rate_limited = 0

    def rate_limit_next(self, calls: int) -> None:
        self.limited_calls = calls

    def handle(self, path: str, raw: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        with self._lock:
            limited = self.limited_calls > 0
            if limited:
                self.limited_calls -= 1
                self.rate_limited += 1
        if limited:
            return self._error("429")
        return super().handle(path, raw, headers)


def gemini_overrides(fake: FakeGemini) -> dict[str, Any]:
    return {"enrich.provider": "gemini", "enrich.base_url": fake.base_url, "enrich.backoff_base_s": 0.05}


@pytest.fixture(scope="session")
def gemini() -> Iterator[RateLimitedGemini]:
    with RateLimitedGemini() as fake:
        yield fake


@pytest.fixture
def fake_gemini(gemini: RateLimitedGemini) -> Iterator[RateLimitedGemini]:
    gemini.reset()
    gemini.limited_calls = 0
    gemini.rate_limited = 0
    gemini.latency_s = 0.0
    yield gemini
    gemini.limited_until = 0.0
    gemini.latency_s = 0.0


def gemini_project(reference: Reference, tmp: Path, fake: FakeGemini, **overrides: Any) -> Project:
    """A project on a copy of the reference warehouse before enrichment, enriching with the fake Gemini."""
    project = reference.project_from(tmp, reference.before_enrich, **{**gemini_overrides(fake), **overrides})
    project.secrets["GEMINI_API_KEY"] = GEMINI_KEY
    return project


@pytest.fixture(scope="session")
def gemini_reference(
    tmp_path_factory: pytest.TempPathFactory, reference: Reference, gemini: RateLimitedGemini
) -> dict[str, Any]:
    """The clean state when the fake Gemini enriches (a clean enrich + mart on the reference's raw data)."""
    gemini.reset()
    project = gemini_project(reference, tmp_path_factory.mktemp("gemini-reference"), gemini)
    results = project.run(UP_TO_MART[3:])
    state = state_of(project.settings())
    assert results["enrich_titles"].llm.calls == len(state["mart"]) == len(reference.state["mart"])
    assert {row["enrichment_provider"] for row in state["mart"]} == {"gemini"}
    return state
