"""Benchmark: review fetching throughput (reviews/s) at concurrency 1 vs the configured default.

    python bench/bench_reviews.py [--titles 1000] [--latency-ms 50]

The fake review sites (tests/fakes/review_sites.py, real HTTP on 127.0.0.1) add ``--latency-ms`` to every
answer. Every title has TMDB reviews and a Guardian result; two in three have a RogerEbert page (at the first,
second or third slug guess), so a title costs 3-5 requests. Both cases run the same harvester (real HTTP client,
parsers, dedupe and selection) with no HTTP cache and the per-host rate limit set high so that it does not
dominate. Prints a Markdown table and writes it to ``bench/results/reviews.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import write_result  # noqa: E402

from core.config import load_settings  # noqa: E402
from extract.reviews.harvest import Harvester  # noqa: E402
from extract.reviews.http import HttpClient  # noqa: E402
from extract.reviews.models import Subject  # noqa: E402
from extract.reviews.settings import SOURCES, ReviewsSettings  # noqa: E402
from tests.fakes.review_sites import EbertPage, ReviewSites, guardian_result, tmdb_review  # noqa: E402

AS_OF = date(2026, 11, 20)
BENCH_RPS = 10_000.0


def build(sites: ReviewSites, n: int) -> list[Subject]:
    subjects = []
    for i in range(n):
        title = f"Bench Film {i}"
        tmdb_id = 500_000 + i
        subjects.append(Subject(title_id=f"tm{tmdb_id}", content_type="movie", title=title, year=2025,
                                tmdb_id=str(tmdb_id), imdb_id=f"tt{tmdb_id}"))
        sites.add_tmdb("movie", tmdb_id, [
            tmdb_review(f"{i:024x}", f"member{i}", f"Review {i}: a tense, handsome thriller.\r\n\r\n**Recommended.**",
                        rating=float(i % 10) + 0.5),
            tmdb_review(f"{i + 10**6:024x}", f"other{i}", f"Review {i}: too long by half.", rating=None),
        ])
        if i % 3:
            suffix = ("-", "-movie-review-", "-film-review-")[i % 3]
            sites.add_page(EbertPage(path=f"/reviews/bench-film-{i}{suffix}2025", film_title=title, film_year=2025,
                                     critic="Bench Critic", published=date(2025, 5, 1), stars=3.0,
                                     tmdb_id=str(tmdb_id), paragraphs=[f"Paragraph one about film {i}.",
                                                                       "Paragraph two."]))
        sites.add_guardian(guardian_result(f"film/2025/may/01/bench-film-{i}-review", f"{title} review – solid",
                                           f"Body of the review of film {i}.", "Bench Writer",
                                           "2025-05-01T10:00:00Z", star_rating="3", imdb_id=f"tt{tmdb_id}"))
    return subjects


def run_case(settings: ReviewsSettings, subjects: list[Subject]) -> dict:
    with HttpClient(settings) as client:
        harvester = Harvester(settings, client, AS_OF)
        started = time.perf_counter()
        harvests = harvester.harvest_many(subjects)
        elapsed = time.perf_counter() - started
        harvester.close()
        requests = sum(client.source_stats(s).get("requests", 0) for s in SOURCES)
    reviews = sum(len(h.reviews) for h in harvests)
    return {"concurrency": settings.concurrency, "seconds": elapsed, "reviews": reviews, "requests": requests,
            "titles": len(subjects)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args(argv)

    default = ReviewsSettings.from_settings(load_settings("dev", root=ROOT, environ={}))
    with ReviewSites(latency_s=args.latency_ms / 1000.0) as sites:
        subjects = build(sites, args.titles)
        urls = {source: {"base_url": url} for source, url in sites.base_urls().items()}
        base = default.with_changes(cache_dir=None, per_host_rps=BENCH_RPS, api_keys={"tmdb": "bench", "guardian": "bench"},
                                    **urls)
        results = [run_case(base.with_changes(concurrency=c), subjects)
                   for c in dict.fromkeys((1, default.concurrency))]

    baseline = results[0]["reviews"] / results[0]["seconds"]
    lines = [
        f"### Review fetching: {args.titles} titles, fake sites with {args.latency_ms:g} ms latency per request",
        "",
        "| concurrency | titles | requests | reviews | seconds | reviews/s | titles/s | vs concurrency 1 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rate = r["reviews"] / r["seconds"]
        lines.append(f"| {r['concurrency']} | {r['titles']} | {r['requests']} | {r['reviews']} | {r['seconds']:.1f} | "
                     f"{rate:.1f} | {r['titles'] / r['seconds']:.1f} | {rate / baseline:.2f}× |")
    lines += [
        "",
        f"Notes: default concurrency = `reviews.concurrency` ({default.concurrency}) from config/base.yaml. "
        f"The per-host rate limit (`reviews.per_host_rps`, {default.per_host_rps:g} by default) is set to "
        f"{BENCH_RPS:g} here to keep it out of the way: with the default, throughput is capped by politeness "
        "(≈1 request/s per host), not by concurrency. No HTTP cache (every request downloads). Fetch + parse + "
        "dedupe/selection only; the dlt load is not part of the timing.",
    ]
    table = "\n".join(lines)
    print(table)
    write_result("reviews", "Review fetching throughput", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
