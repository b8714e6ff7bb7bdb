"""The dbt docs site as CD publishes it (``scripts/deploy.py docs-site``): generated from a warehouse's catalog,
opened in headless Chromium, the published mart's page shows its columns (with the warehouse's types), its
tests, its lineage and the exposures that read it; the upload puts it in the docs bucket (moto's S3)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from core.config import PROJECT_ROOT
from core.mart_schema import MART_COLUMNS
from core.raw_tables import ensure_raw_tables
from core.warehouse import Warehouse
from tests.dbt.dbt_helpers import run_dbt
from tests.reporting.test_run_report import devtools_page

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import slim_ci

pytestmark = pytest.mark.slow

MART = "model.trending_now.movies_tv_shows_enriched.v1"
# Once the model's page shows its columns: its text (and the "Data Tests" tab's), then the "Exposures" tab of
# "Referenced By" clicked, then "View Lineage Graph" clicked and the graph's drawn canvases measured.
PAGE = """(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  // poll (100 ms) until ok() or 30 s: the test's assertions say what never showed up
  const until = async ok => { for (let i = 0; i < 300 && !ok(); i++) await sleep(100); };
  const text = () => (document.body ? document.body.innerText : '');
  const leaf = name => Array.from(document.querySelectorAll('a, button, strong, span, li'))
    .filter(e => e.textContent.trim() === name);
  const clickAndWait = async e => { const before = text(); e.click(); await until(() => text() !== before); };
  const drawn = () => Array.from(document.querySelectorAll('canvas'))
    .map(c => c.getBoundingClientRect()).filter(b => b.width > 100 && b.height > 100).length;
  await until(() => text().includes('llm_generated_primary_genre'));
  let page = text();
  // "Referenced By" opens on its first tab (Models, when a model reads the mart): the tests' tab shows their names
  const tests = leaf('Data Tests').pop() || leaf('Tests').pop();
  if (tests) { await clickAndWait(tests); page += ' ' + text(); }
  const tab = leaf('Exposures').pop();
  if (tab) await clickAndWait(tab);
  const shown = text();
  const references = shown.slice(shown.lastIndexOf('Referenced By'), shown.lastIndexOf('Code'));
  const lineage = Array.from(document.querySelectorAll('a, button, [title]'))
    .filter(e => (e.innerText || '').trim() === 'View Lineage Graph' || e.title === 'View Lineage Graph').pop();
  if (lineage) { lineage.click(); await until(() => drawn() > 0); }
  return JSON.stringify({page, references, canvases: drawn(), lineage: Boolean(lineage)});
})()"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``docs-site --target duckdb`` on a DuckDB warehouse whose relations exist (seeds, ``dbt run --empty``)."""
    from core.config import load_settings

    work = tmp_path_factory.mktemp("docs")
    duckdb_path = work / "warehouse.duckdb"
    settings = load_settings("dev", root=PROJECT_ROOT, environ={}).with_overrides(
        {"warehouse.target": "duckdb", "warehouse.duckdb_path": str(duckdb_path)}
    )
    ensure_raw_tables(Warehouse(settings))
    env = {"TRENDING_NOW_DUCKDB_PATH": str(duckdb_path)}
    run_dbt(["seed"], target="duckdb", work_dir=work, env=env)
    run_dbt(["run", "--empty"], target="duckdb", work_dir=work, env=env)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRENDING_NOW_DUCKDB_PATH", str(duckdb_path))
        return slim_ci.generate_docs("duckdb", target_path=work / "target")


def test_the_catalog_is_the_warehouses(site: Path) -> None:
    catalog = json.loads((site / "catalog.json").read_text(encoding="utf-8"))
    columns = catalog["nodes"][MART]["columns"]
    assert list(columns) == list(MART_COLUMNS)
    assert columns["release_year"]["type"] == "INTEGER"  # DuckDB's name for it, from the warehouse
    assert catalog["nodes"][MART]["metadata"]["schema"] == "marts"


def evaluate_once_loaded(send: Any, params: dict[str, Any]) -> dict[str, Any]:
    """``Runtime.evaluate`` of the page script. The docs app routes to the model's page after it loads, which
    destroys a context an earlier evaluation ran in: that one answer is asked again, at most 5 times."""
    errors = []
    for _ in range(5):
        try:
            return dict(json.loads(send("Runtime.evaluate", params)["result"]["value"]))
        except AssertionError as exc:  # send() asserts there is no error in the answer
            if "Execution context was destroyed" not in str(exc):
                raise
            errors.append(str(exc))
    raise AssertionError(f"the page kept navigating: {errors}")


def test_the_mart_page_shows_columns_tests_lineage_and_exposures(site: Path, tmp_path: Path) -> None:
    url = f"{(site / 'static_index.html').as_uri()}#!/model/{MART}"
    with devtools_page(url, tmp_path / "profile") as send:
        params = {"expression": PAGE, "returnByValue": True, "awaitPromise": True}
        value = evaluate_once_loaded(send, params)
    page, references = value["page"], value["references"]
    # its columns, with the types the warehouse's catalog reports, and the contract
    columns = page[page.index("Columns") :]
    assert [c for c in MART_COLUMNS if f"\n{c}\n" not in columns] == [], columns[:2000]
    types = ("VARCHAR", "INTEGER", "DOUBLE", "TIMESTAMP WITH TIME ZONE")
    assert [t for t in types if t not in columns] == [], columns[:2000]
    assert "CONTRACT\nEnforced" in page and "VERSION\n1" in page
    # its data tests (the column table's DATA TESTS, the tests' names under Referenced By)
    assert "DATA TESTS" in columns
    tests = ("unique_movies_tv_shows_enriched_v1_id", "not_null_movies_tv_shows_enriched_v1_llm_review_summary")
    assert [t for t in tests if t not in page] == [], page[page.find("Referenced By") : page.find("Referenced By") + 600]
    # lineage: what it is built from, and the graph drawn
    assert "Depends On\nModels\nmovies_tv_shows_enriched_audit" in page
    assert value["lineage"] and value["canvases"] >= 1, value["canvases"]
    # the exposures that read it
    exposures = ("data_ingestion_trending_now", "parquet_export", "trending_now_app")
    assert [e for e in exposures if e not in references] == [], references


def test_docs_site_uploads_to_the_private_bucket_and_invalidates(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload as CD runs it (boto3's default clients, here pointed at moto's S3 and CloudFront)."""
    import boto3

    from tests.fakes.s3_server import running_s3_server

    with running_s3_server(monkeypatch) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint_url)
        server.create_bucket("tn-staging-docs-123")
        cloudfront = boto3.client("cloudfront")
        distribution = cloudfront.create_distribution(DistributionConfig={
            "CallerReference": "docs", "Comment": "docs", "Enabled": True, "DefaultRootObject": "index.html",
            "Origins": {"Quantity": 1, "Items": [{"Id": "docs-bucket", "DomainName": "tn-staging-docs-123.s3.amazonaws.com",
                                                  "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "docs-bucket", "ViewerProtocolPolicy": "redirect-to-https",
                                     "TrustedSigners": {"Enabled": False, "Quantity": 0}, "MinTTL": 0,
                                     "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}}},
        })["Distribution"]["Id"]  # fmt: skip
        keys = slim_ci.publish_docs(site, "tn-staging-docs-123", distribution_id=distribution)
        assert sorted(keys) == ["catalog.json", "index.html", "manifest.json"]
        index = server.client().get_object(Bucket="tn-staging-docs-123", Key="index.html")
        assert index["ContentType"].startswith("text/html")
        assert index["Body"].read() == (site / "static_index.html").read_bytes()
        invalidations = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]
        assert invalidations["Quantity"] == 1
