"""The run report: read back from a real warehouse, rendered by headless Chromium (DevTools protocol), written
for a failed run, uploaded to S3 (moto_server)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.config import Settings
from core.context import LlmUsage, RunContext, StepResult
from core.metrics import StepRecord, record_steps
from core.warehouse import Warehouse
from reporting.run_report import collect, publish_report, render, report_key, s3_location, write_report
from tests.fakes.s3_server import running_s3_server
from trending_now import cli, pipeline

AS_OF = date(2026, 11, 20)
CHARTS = ("countries", "platforms", "scores", "enrichments", "steps", "llm-calls", "llm-cost", "sources")


# ---- a warehouse holding a run and its history ------------------------------------------------------
def _record(
    run_id: str, start: datetime, results: list[tuple[StepResult, float]], failed: str | None = None
) -> list[StepRecord]:
    records, at = [], start
    for result, seconds in results:
        status = "failed" if result.step == failed else "ok"
        records.append(
            StepRecord(
                run_id,
                AS_OF,
                "duckdb",
                result,
                status,
                at,
                at + timedelta(seconds=seconds),
                error=f"{result.step}: boom" if status == "failed" else None,
            )
        )
        at += timedelta(seconds=seconds)
    return records


def seed(settings: Settings, run_id: str = "run0000today", failed: str | None = None) -> None:
    wh = Warehouse(settings)
    now = datetime.now(UTC).replace(microsecond=0)
    history = []
    for back in (3, 2, 2, 1):  # four earlier runs on three days, with LLM calls and cost
        start = now - timedelta(days=back, hours=back)
        history += _record(
            f"old{back}{len(history)}",
            start,
            [
                (
                    StepResult(
                        "enrich_titles", rows_in=10, rows_out=10, llm=LlmUsage(calls=10 + back, cost_usd=0.01 * back)
                    ),
                    5.0,
                )
            ],
        )
    steps = [
        (
            StepResult(
                "extract_releases",
                rows_in=48,
                rows_out=46,
                quarantined=2,
                details={"countries": {"US": {"titles": 30}, "GB": {"titles": 16}}},
            ),
            3.6,
        ),
        (
            StepResult(
                "extract_reviews",
                rows_in=46,
                rows_out=94,
                details={
                    "sources": {
                        "guardian": {"ok": 25, "no_reviews": 20, "not_found": 0, "error": 1},
                        "tmdb": {"ok": 38, "no_reviews": 5, "not_found": 2, "error": 0},
                    }
                },
            ),
            4.7,
        ),
        (StepResult("dbt_staging_intermediate", rows_out=16), 4.0),
        (
            StepResult(
                "enrich_titles",
                rows_in=3,
                rows_out=3,
                llm=LlmUsage(calls=4, cost_usd=0.0021),
                cache_hits=40,
                details={"failed": 1},
            ),
            2.0,
        ),
        (StepResult("dbt_marts", rows_out=4), 1.6),
    ]
    records = _record(run_id, now, steps, failed=failed)
    record_steps(wh, history + records)
    enriched_at = records[3].started_at + timedelta(seconds=1)
    wh.execute("create schema if not exists marts")
    wh.execute(
        "create table marts.movies_tv_shows_enriched (id text, streaming_platforms text, content_type text, "
        "llm_generated_score double precision)"
    )
    wh.executemany(
        "insert into marts.movies_tv_shows_enriched values (?, ?, ?, ?)",
        [
            (
                f"t{i}",
                ["Netflix", "Netflix, Hulu", "Apple TV"][i % 3],
                ["Movie", "TV Show"][i % 2],
                2 + (i * 3) % 8 + (i % 2) * 0.5,
            )
            for i in range(20)
        ],
    )
    wh.execute("create table marts.title_availability (id text, country_code text)")
    wh.executemany(
        "insert into marts.title_availability values (?, ?)",
        [(f"t{i}", "US") for i in range(20)] + [(f"t{i}", "GB") for i in range(12)],
    )
    wh.execute("create schema if not exists raw_enrichment")
    wh.execute("create table raw_enrichment.title_enrichments (id text, status text, enriched_at timestamp)")
    wh.executemany(
        "insert into raw_enrichment.title_enrichments values (?, ?, ?)",
        [
            ("t1", "ok", (enriched_at - timedelta(days=5)).replace(tzinfo=None)),  # re-enriched: changed
            ("t1", "ok", enriched_at.replace(tzinfo=None)),
            ("t2", "ok", enriched_at.replace(tzinfo=None)),  # new
            ("t3", "ok", enriched_at.replace(tzinfo=None)),  # new
            ("t4", "ok", (enriched_at - timedelta(days=5)).replace(tzinfo=None)),  # cached
            ("t5", "failed", enriched_at.replace(tzinfo=None)),
        ],
    )
    wh.execute("create schema if not exists raw_justwatch")
    wh.execute("create table raw_justwatch.quarantine (source text, reason text, as_of_date date)")
    wh.executemany(
        "insert into raw_justwatch.quarantine values (?, ?, ?)",
        [
            ("justwatch", "invalid node: id: Field required", AS_OF),
            ("justwatch", "invalid node: id: Field required", AS_OF),
            ("justwatch", "older reason", AS_OF - timedelta(days=1)),
        ],
    )


@pytest.mark.parametrize("target", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_collect_reads_the_run_back(
    make_settings: Callable[..., Settings], request: pytest.FixtureRequest, target: str
) -> None:
    if target == "postgres":
        request.getfixturevalue("pg_database")
    settings = make_settings({"warehouse.target": target})
    seed(settings)
    data = collect(Warehouse(settings), "run0000today")
    assert data.steps[0]["step"] == "extract_releases" and data.as_of == AS_OF
    assert data.published == 20 and len(data.scores) == 20
    assert data.platforms["Hulu"]["Movie"] + data.platforms["Hulu"]["TV Show"] == 7
    assert data.countries == {"US": {"listed": 30, "published": 20}, "GB": {"listed": 16, "published": 12}}
    assert data.enrichments == {"new": 2, "changed": 1, "cached": 40, "failed": 1}
    assert [d["runs"] for d in data.daily] == [1, 2, 1, 1] and sum(
        d["llm_calls"] for d in data.daily
    ) == 4 + 11 + 12 * 2 + 13
    assert data.quarantine == [{"source": "justwatch", "reason": "invalid node: id: Field required", "n": 2}]
    assert data.sources["guardian"]["error"] == 1 and not data.problems


def test_a_dag_run_shows_every_mapped_country(make_settings: Callable[..., Settings]) -> None:
    """A DAG run records one extract per country (the mapped task): every one is listed; a failed one is named."""
    settings = make_settings()
    start = datetime.now(UTC) - timedelta(minutes=5)
    us = StepResult("extract_releases", rows_out=30, details={"countries": {"US": {"titles": 30}}})
    gb = StepResult("extract_releases", details={"failed_countries": {"GB": "JustWatch newTitles (GB) failed"}})
    de = StepResult("extract_releases", rows_out=7, details={"countries": {"DE": {"titles": 7}}})
    records = _record("dagrun", start, [(us, 2.0), (gb, 3.0), (de, 2.5)], failed="none")
    records[1].status, records[1].error = "failed", "extract_releases: JustWatch newTitles (GB) failed"
    record_steps(Warehouse(settings), records)

    data = collect(Warehouse(settings), "dagrun")

    assert data.countries == {"US": {"listed": 30}, "GB": {"listed": 0}, "DE": {"listed": 7}}
    assert "GB could not be extracted" in render(data)


# ---- headless Chromium over the DevTools protocol -----------------------------------------------------
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed under CI (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


@contextmanager
def devtools_page(
    url: str, profile: Path
) -> Iterator[Callable[[str, dict[str, Any] | None], dict[str, Any]]]:
    """A headless Chromium showing ``url``; yields ``send(method, params)`` over the page's DevTools socket."""
    from websockets.sync.client import connect

    proc = subprocess.Popen(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "--window-size=1300,2000",
            url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file, deadline = profile / "DevToolsActivePort", time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert time.monotonic() < deadline and proc.poll() is None, "chromium did not start"
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            page = next(t for t in json.load(response) if t["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as ws:
            counter = iter(range(1, 1_000_000))

            def send(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
                msg_id = next(counter)
                ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
                while True:
                    message = json.loads(ws.recv(timeout=30))
                    if message.get("id") == msg_id:
                        assert "error" not in message, message
                        return message["result"]

            yield send
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


MEASURE = """JSON.stringify({
  ready: document.readyState,
  href: location.href,
  resources: performance.getEntriesByType('resource').map(r => r.name),
  scripts: document.scripts.length,
  charts: Array.from(document.querySelectorAll('figure[data-chart]')).map(f => {
    const svg = f.querySelector('svg'); const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    const bars = Array.from(f.querySelectorAll('svg rect.bar')).filter(r => {
      const b = r.getBoundingClientRect(); return b.width > 0.5 && b.height > 0.5; });
    return {key: f.dataset.chart, width: box.width, height: box.height, bars: bars.length,
            empty: f.querySelectorAll('svg text.empty').length};
  }),
  alert: (document.querySelector('.alert') || {}).textContent || null,
})"""


def measure(page_path: Path, profile: Path, screenshot: Path | None = None) -> dict[str, Any]:
    with devtools_page(page_path.as_uri(), profile) as send:
        deadline = time.monotonic() + 20
        while True:
            value = json.loads(
                send("Runtime.evaluate", {"expression": MEASURE, "returnByValue": True})["result"]["value"]
            )
            loaded = value["ready"] == "complete" and value["href"] == page_path.as_uri()
            if loaded or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if screenshot is not None:
            shot = send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
            screenshot.write_bytes(base64.b64decode(shot["data"]))
    return value


def test_report_renders_in_chromium_with_every_chart_drawn(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    seed(settings)
    path = write_report(Warehouse(settings), settings, "run0000today")
    assert path == tmp_path / "reports" / "run-run0000today.html"
    page = measure(path, tmp_path / "chromium", tmp_path / "report.png")

    assert page["resources"] == [] and page["scripts"] == 0  # static and offline: nothing fetched, no script
    charts = {c["key"]: c for c in page["charts"]}
    assert set(charts) == set(CHARTS)
    for key, chart in charts.items():
        assert chart["width"] > 200 and chart["height"] > 40, key
        assert chart["bars"] >= 1 and chart["empty"] == 0, key
    assert charts["platforms"]["bars"] == 3 + 2 + 1  # Netflix and Hulu have both types, Apple TV movies only
    assert charts["countries"]["bars"] == 2 * 2  # US and GB, listed and published
    assert charts["llm-calls"]["bars"] == 4  # four days
    assert charts["steps"]["bars"] == 5 and page["alert"] is None
    assert (tmp_path / "report.png").stat().st_size > 20_000


def test_a_failed_run_writes_its_report_saying_what_failed(
    make_settings: Callable[..., Settings], make_context: Callable[..., RunContext], tmp_path: Path
) -> None:
    settings = make_settings()
    seed(settings, run_id="earlier")  # history exists; this run fails at its first step (no mart input)
    ctx = make_context(settings)
    with pytest.raises(pipeline.StepFailed, match="validate_mart"):
        cli.run_and_report(ctx, pipeline.steps_named(["validate_mart"]), report=True)
    path = tmp_path / "reports" / f"run-{ctx.run_id}.html"
    page = measure(path, tmp_path / "chromium")
    assert page["alert"].startswith("The run failed at validate_mart.")
    charts = {c["key"]: c for c in page["charts"]}
    assert charts["steps"]["bars"] == 1 and charts["llm-calls"]["bars"] >= 1
    assert charts["enrichments"]["empty"] == 1  # this run never reached enrich_titles


def test_a_run_through_enrich_stores_and_shows_its_enrichment_quality(
    make_settings: Callable[..., Settings], make_context: Callable[..., RunContext], tmp_path: Path
) -> None:
    from reporting.evaluation import for_run
    from tests.enrich.conftest import input_row, seed_inputs

    settings = make_settings()
    seed_inputs(settings, [input_row(i) for i in range(8)])
    ctx = make_context(settings)
    records, report = cli.run_and_report(ctx, pipeline.steps_named(["enrich_titles"]), report=True)
    assert report == str(tmp_path / "reports" / f"run-{ctx.run_id}.html")
    stored = for_run(ctx.warehouse, ctx.run_id)
    assert [(q["dataset"], q["provider"], q["titles"], q["as_of"]) for q in stored] == [
        ("warehouse", "heuristic", 8, ctx.as_of)
    ]
    page = Path(report).read_text()
    assert "heuristic/heuristic-v1 · v2" in page and "Could not read" not in page
    measured = measure(Path(report), tmp_path / "chromium", tmp_path / "quality.png")
    assert {c["key"]: c["bars"] for c in measured["charts"]}["enrichments"] == 1  # 8 new
    assert records[0].result.rows_out == 8


def test_unreachable_warehouse_fails_without_a_report(
    make_settings: Callable[..., Settings], make_context: Callable[..., RunContext], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    ctx = make_context(make_settings({"warehouse.duckdb_path": str(blocker / "w.duckdb")}))
    with pytest.raises(pipeline.StepFailed, match=r"^warehouse: "):
        cli.run_and_report(ctx, pipeline.steps_named(["validate_mart"]), report=True)
    assert not (tmp_path / "reports").exists()


def test_summary_names_the_report(
    make_context: Callable[..., RunContext], capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = make_context()
    cli.print_summary(ctx, [], report="data/reports/run-x.html")
    assert capsys.readouterr().out.splitlines()[-1] == "  report     data/reports/run-x.html"


def test_render_without_any_run_recorded() -> None:
    from reporting.run_report import ReportData

    page = render(ReportData(run_id="nothing", problems=["ops.pipeline_runs does not exist yet"]))
    assert "No step of this run is recorded" in page and page.count('class="empty"') == len(CHARTS)


# ---- chart geometry (pure) ----------------------------------------------------------------------------
def test_hbar_geometry_stacks_segments_and_keeps_tiny_values_visible() -> None:
    from reporting.charts import MIN_BAR_WIDTH, bar_segments, hbar_geometry, legend_positions

    rows = [("Netflix", [3.0, 0.0, 1.0]), ("Hulu", [0.001, 2.0, 0.0])]
    geometry = hbar_geometry(rows, ["Movie", "TV Show", "Other"], width=560)
    assert geometry.label_w == 16 + 7 * len("Netflix") and geometry.peak == 4.0
    assert geometry.row_y(1) - geometry.row_y(0) == 30 and geometry.top == 28  # a legend above: 28 px
    segments, end = bar_segments(rows[0][1], geometry)
    assert [i for i, _, _ in segments] == [0, 2]  # zeros are not drawn
    assert segments[1][1] == segments[0][1] + segments[0][2] and end == geometry.label_w + geometry.plot_w
    assert bar_segments(rows[1][1], geometry)[0][0][2] == MIN_BAR_WIDTH
    assert legend_positions(["ab", "c"], 100) == [100, 146]


def test_column_geometry_thins_labels_and_gives_positive_values_a_minimum_height() -> None:
    from reporting.charts import MIN_COLUMN_HEIGHT, column_geometry

    few = column_geometry([("a", 10.0), ("b", 0.0), ("c", 0.001)], width=300, height=120)
    assert few.values_shown and few.every == 1 and few.base_y == 22 + (120 - 56)
    assert few.bar_height(10.0) == few.plot_h and few.bar_height(0.0) == 0
    assert few.bar_height(0.001) == MIN_COLUMN_HEIGHT
    assert few.center(1) - few.center(0) == few.slot
    many = column_geometry([(str(i), 1.0) for i in range(40)], width=560, height=200)
    assert not many.values_shown and many.every == 4


# ---- S3 ----------------------------------------------------------------------------------------------
def test_report_location_and_upload(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert s3_location(make_settings()) is None  # dev: local only
    assert s3_location(make_settings({"dvc.remote": "s3", "dvc.s3_url": "s3://tn-data/dvc"})) == (
        "tn-data",
        "reports",
    )
    assert s3_location(make_settings({"report.s3_url": "s3://ops-bucket/runs/"})) == ("ops-bucket", "runs")
    assert report_key("reports", AS_OF, "abc") == "reports/2026-11-20/run-abc.html"

    page = tmp_path / "run-abc.html"
    page.write_text("<!DOCTYPE html><title>r</title>")
    with running_s3_server(monkeypatch) as s3:
        s3.create_bucket("tn-data")
        settings = make_settings(
            {"dvc.remote": "s3", "dvc.s3_url": "s3://tn-data/dvc", "aws.endpoint_url": s3.endpoint_url}
        )
        assert publish_report(settings, page, "abc", AS_OF) == "s3://tn-data/reports/2026-11-20/run-abc.html"
        obj = s3.client().get_object(Bucket="tn-data", Key="reports/2026-11-20/run-abc.html")
        assert obj["ContentType"].startswith("text/html") and obj["Body"].read() == page.read_bytes()
