"""Measure the enrichment against its own sources, with no second model (``trending-now eval``).

Metrics, per (provider, model, prompt_version):

- ``primary_genre_in_source_rate``: share of titles whose primary genre is one of the title's source genres
  (over titles with at least one source genre in the vocabulary);
- ``secondary_genres_in_vocabulary_rate`` / ``vibe_tags_in_vocabulary_rate``: share of secondary genres in the
  genre vocabulary, and of vibe tags in the vibe-tag vocabulary the prompt lists (:data:`VIBE_VOCABULARY`,
  the dbt seed ``vibe_tags``);
- ``score_mae`` / ``score_spearman``: the score against the mean of the critics' normalised scores, over the
  ``score_titles`` titles with at least 2 rated reviews;
- ``summary_grounding_rate``: share of summary sentences whose content words come from the title's reviews
  and synopsis (at least ``eval.grounding_min_overlap`` of them);
- ``failure_rate``, ``validation_retries_per_title``, ``cost_per_title_usd``;
- on the evaluation set only, ``expected_met_rate``: share of the set's fixed expectations met.

Two ways in: :func:`evaluate_warehouse` scores what the warehouse holds for the current inputs (no call at
all); :func:`evaluate_set` runs the configured provider on the fixed evaluation set (``eval.set_path``) and
:func:`compare` gates it against the accepted baseline (``eval.baseline_path``) with ``eval.tolerances``.
Every evaluation is stored as one row of ``ops.enrichment_evals``.
"""

from __future__ import annotations

import csv
import json
import math
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from core.config import ConfigError, Settings
from core.dbt_relations import relation
from core.metrics import utcnow
from core.settings_schema import ScoreBandsSection
from core.text import parse_list
from core.vocabulary import PRIMARY_GENRES, to_vocabulary, vibe_tag_names
from core.warehouse import OPS, RAW_ENRICHMENT, Warehouse
from enrich.step import (
    TitleInput,
    enrich_without_storing,
    parse_input_row,
    prompt_version,
    resolve_provider_name,
    split_sentences,
)

TABLE = f"{OPS}.enrichment_evals"
INPUT = relation("titles_enrichment_input")
INPUTS = str(INPUT)
ENRICHMENTS = f"{RAW_ENRICHMENT}.title_enrichments"

# Metric -> "higher" or "lower" is better. The tolerances (how much worse is a regression) are config.
METRICS: dict[str, str] = {
    "primary_genre_in_source_rate": "higher",
    "secondary_genres_in_vocabulary_rate": "higher",
    "vibe_tags_in_vocabulary_rate": "higher",
    "score_mae": "lower",
    "score_spearman": "higher",
    "summary_grounding_rate": "higher",
    "failure_rate": "lower",
    "validation_retries_per_title": "lower",
    "cost_per_title_usd": "lower",
    "expected_met_rate": "higher",
}
COUNTS = ("titles", "failures", "validation_retries", "score_titles", "calls")
MIN_RATED_REVIEWS = 2  # a title's critics' mean counts for the score metrics from this many rated reviews
MIN_RANKED_PAIRS = 3  # Spearman's correlation needs at least this many pairs

# The mood vocabulary the prompt gives the model: the dbt seed vibe_tags (core.vocabulary reads it).
VIBE_VOCABULARY: frozenset[str] = frozenset(vibe_tag_names())


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words a faithful summary may use without the sources using them: it speaks about reviews of a title.
FRAME_WORDS = _words(
    "review reviews reviewer reviewers critic critics critical summary synopsis title film films movie "
    "movies show shows series season available yet usable either overall"
)
STOPWORDS = _words(
    """a about above across after again against all almost also although always am among an and another
    any are around as at be because been before being below between both but by can could did do does
    doing down during each even ever every few for from further had has have having he her here hers
    herself him himself his how however i if in into is it its itself just least less like made make
    makes many may me might more most much must my myself neither never no nor not now of off often on
    once one only or other our ours out over own perhaps quite rather really same she should since so
    some still such than that the their theirs them themselves then there these they this those though
    through thus to too under until up upon us very was we well were what when where whether which while
    who whom whose why will with within without would yet you your yours"""
)
_QUOTE = "\u2019"  # the typographic apostrophe reviews use ("critic\u2019s")
_WORD = re.compile(r"[a-z0-9][a-z0-9'\u2019-]*")
_SHORTEST_IES_PLURAL = 5  # "flies" -> "fly"; "ties" -> "tie" (the plain -s rule)
_SHORTEST_S_PLURAL = 4  # "films" -> "film"; "gas" stays
_SHORTEST_CONTENT_WORD = 3
_NO_REVIEWS = re.compile(r"\b(no|not any|zero)\b[^.]*\breviews?\b|\bnot (been )?reviewed\b|\bunreviewed\b")


# ---- pure metrics -------------------------------------------------------------------------------------
def _stem(word: str) -> str:
    word = word.strip("'-" + _QUOTE)
    for suffix in ("'s", _QUOTE + "s"):
        if word.endswith(suffix):
            word = word[: -len(suffix)]
    if len(word) >= _SHORTEST_IES_PLURAL and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) >= _SHORTEST_S_PLURAL and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def content_words(text: str) -> set[str]:
    """Lowercase, stemmed words that carry content (stopwords and one/two-letter words dropped)."""
    words = (_stem(w) for w in _WORD.findall(text.lower()))
    return {w for w in words if len(w) >= _SHORTEST_CONTENT_WORD and w not in STOPWORDS}


def source_words(title: TitleInput) -> set[str]:
    """What a grounded summary may draw on: reviews, synopsis, the title's name, review sources, frame words."""
    texts = [title.title, title.synopsis or "", *(r.review_text for r in title.reviews)]
    texts += [r.source_name for r in title.reviews] + [r.author or "" for r in title.reviews]
    return content_words(" ".join(texts)) | {_stem(w) for w in FRAME_WORDS}


def grounded_sentences(summary: str, title: TitleInput, min_overlap: float) -> tuple[int, int]:
    """(grounded, total) sentences: a sentence is grounded when ``min_overlap`` of its content words are sourced."""
    allowed = source_words(title)
    sentences = split_sentences(summary)
    grounded = 0
    for sentence in sentences:
        words = content_words(sentence)
        if not words or len(words & allowed) / len(words) >= min_overlap:
            grounded += 1
    return grounded, len(sentences)


def critic_score(title: TitleInput) -> tuple[float | None, int]:
    """Mean of the reviews' normalised scores (0-10) and how many reviews were rated."""
    scores = [r.score_normalized for r in title.reviews if r.score_normalized is not None]
    return (sum(scores) / len(scores) if scores else None), len(scores)


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):  # ties share their average rank
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation (Pearson over average ranks); None below 3 pairs or with no variance."""
    if len(xs) != len(ys) or len(xs) < MIN_RANKED_PAIRS:
        return None
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = math.sqrt(sum((a - mx) ** 2 for a in rx))
    vy = math.sqrt(sum((b - my) ** 2 for b in ry))
    return None if vx == 0 or vy == 0 else cov / (vx * vy)


@dataclass
class Enriched:
    """One enrichment as stored (lists already split)."""

    review_summary: str
    score: float
    vibe_tags: list[str]
    primary_genre: str
    secondary_genres: list[str]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Enriched:
        return cls(
            review_summary=str(row.get("review_summary") or ""),
            score=float(row.get("score") or 0),
            vibe_tags=[t.strip() for t in str(row.get("vibe_tags") or "").split(",") if t.strip()],
            primary_genre=str(row.get("primary_genre") or ""),
            secondary_genres=parse_list(row.get("secondary_genres")),
        )

    @classmethod
    def from_model(cls, enrichment: Any) -> Enriched:
        return cls(
            enrichment.review_summary,
            float(enrichment.score),
            list(enrichment.vibe_tags),
            str(enrichment.primary_genre),
            [str(g) for g in enrichment.secondary_genres],
        )


class ScoreBands(ScoreBandsSection):
    """The critics' bands an expected score falls in (``eval.score_bands``): negative below ``mixed_from``,
    positive from ``positive_from``, mixed between; a score may stray ``margin`` past its band's edges."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ScoreBands:
        return cls.model_validate(settings.typed.eval.score_bands.model_dump())

    def band(self, score: float) -> str:
        if score >= self.positive_from:
            return "positive"
        return "mixed" if score >= self.mixed_from else "negative"

    def bounds(self, band: str) -> tuple[float, float]:
        low, high = {
            "negative": (1.0, self.mixed_from),
            "mixed": (self.mixed_from, self.positive_from),
            "positive": (self.positive_from, 10.0),
        }[band]
        return round(max(1.0, low - self.margin), 2), round(min(10.0, high + self.margin), 2)


def consensus_band(title: TitleInput, bands: ScoreBands) -> str | None:
    """The band most of the critics' rated reviews fall in (a tie: the band of their median score); None
    without a rated review. Not the mean the heuristic provider scores with: three 8s and a 3 are positive."""
    rated = sorted(r.score_normalized for r in title.reviews if r.score_normalized is not None)
    if not rated:
        return None
    counts: dict[str, int] = {}
    for score in rated:
        counts[bands.band(score)] = counts.get(bands.band(score), 0) + 1
    most = max(counts.values())
    leaders = [band for band, n in counts.items() if n == most]
    if len(leaders) == 1:
        return leaders[0]
    middle = len(rated) // 2
    median = rated[middle] if len(rated) % 2 else (rated[middle - 1] + rated[middle]) / 2
    return bands.band(median)


@dataclass
class Expectation:
    """The fixed expectations of one evaluation-set title: labels that do not come from any provider's rules
    (see :func:`expect`)."""

    score_band: str | None = None
    score_range: tuple[float, float] | None = None
    primary_genre_in: list[str] = field(default_factory=list)
    says_no_reviews: bool = False

    def check(self, enriched: Enriched) -> tuple[int, int]:
        """(met, checked)."""
        met = checked = 0
        if self.score_range is not None:
            checked += 1
            met += self.score_range[0] <= enriched.score <= self.score_range[1]
        if self.primary_genre_in:
            checked += 1
            met += enriched.primary_genre in self.primary_genre_in
        if self.says_no_reviews:
            first = (split_sentences(enriched.review_summary) or [""])[0].lower()
            checked += 1
            met += bool(_NO_REVIEWS.search(first))
        return met, checked

    def as_dict(self) -> dict[str, Any]:
        return {
            "score_band": self.score_band,
            "score_range": list(self.score_range) if self.score_range else None,
            "primary_genre_in": self.primary_genre_in,
            "says_no_reviews": self.says_no_reviews,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Expectation:
        score_range = data.get("score_range")
        return cls(
            data.get("score_band"),
            (float(score_range[0]), float(score_range[1])) if score_range else None,
            list(data.get("primary_genre_in") or []),
            bool(data.get("says_no_reviews")),
        )


def mapped_source_genres(title: TitleInput) -> list[str]:
    genres: list[str] = []
    for label in title.source_genres:
        genre = to_vocabulary(label)
        if genre and genre not in genres:
            genres.append(genre)
    return genres


def expect(title: TitleInput, bands: ScoreBands, genre_labels: list[str]) -> Expectation:
    """What any acceptable enrichment of ``title`` satisfies: a score in the critics' consensus band
    (:func:`consensus_band`), a primary genre among the labelled ones (read from the source genres and the
    synopsis by a reviewer: ``eval.labels_path``), a summary that says when there are no reviews."""
    band = consensus_band(title, bands)
    return Expectation(
        band, bands.bounds(band) if band else None, list(genre_labels), says_no_reviews=not title.reviews
    )


def read_labels(path: Path) -> dict[str, list[str]]:
    """``eval.labels_path``: per title id, the acceptable primary genres (``;``-separated, the vocabulary's
    names), most fitting first."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    labels: dict[str, list[str]] = {}
    for line, row in enumerate(rows, start=2):
        genres = [g.strip() for g in (row.get("primary_genre_in") or "").split(";") if g.strip()]
        unknown = [g for g in genres if g not in PRIMARY_GENRES]
        if not row.get("id") or not genres or unknown:
            raise ValueError(
                f"{path.name} line {line}: needs an id and genres of the vocabulary (got {unknown})"
            )
        labels[row["id"]] = genres
    return labels


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass
class _Share:
    """How many of ``total`` things passed a check; its rate is None when nothing was checked."""

    hits: int = 0
    total: int = 0

    def add(self, hits: int, total: int) -> None:
        self.hits += hits
        self.total += total

    def rate(self) -> float | None:
        return _rate(self.hits, self.total)


@dataclass
class _Tally:
    """Running counts behind :func:`score_enrichments`, one title at a time: each share is (passed, checked)."""

    titles: int = 0
    genre: _Share = field(default_factory=_Share)  # primary genre among the source genres (titles with some)
    secondary: _Share = field(default_factory=_Share)  # secondary genres in the vocabulary
    tags: _Share = field(default_factory=_Share)  # vibe tags in the vocabulary
    grounded: _Share = field(default_factory=_Share)  # summary sentences grounded in the sources
    expected: _Share = field(default_factory=_Share)  # the evaluation set's expectations met
    llm: list[float] = field(default_factory=list)
    critics: list[float] = field(default_factory=list)

    def add(self, title: TitleInput, enriched: Enriched, min_overlap: float) -> None:
        self.titles += 1
        allowed = mapped_source_genres(title)
        if allowed:
            self.genre.add(enriched.primary_genre in allowed, 1)
        secondary = enriched.secondary_genres
        self.secondary.add(sum(g in PRIMARY_GENRES for g in secondary), len(secondary))
        self.tags.add(sum(t.lower() in VIBE_VOCABULARY for t in enriched.vibe_tags), len(enriched.vibe_tags))
        self.grounded.add(*grounded_sentences(enriched.review_summary, title, min_overlap))
        mean, rated = critic_score(title)
        if mean is not None and rated >= MIN_RATED_REVIEWS:
            self.llm.append(enriched.score)
            self.critics.append(mean)

    def metrics(self) -> dict[str, Any]:
        pairs = zip(self.llm, self.critics, strict=True)
        mae = sum(abs(a - b) for a, b in pairs) / len(self.llm) if self.llm else None
        return {
            "titles": self.titles,
            "primary_genre_in_source_rate": self.genre.rate(),
            "secondary_genres_in_vocabulary_rate": self.secondary.rate(),
            "vibe_tags_in_vocabulary_rate": self.tags.rate(),
            "score_titles": len(self.llm),
            "score_mae": _rounded(mae),
            "score_spearman": _rounded(spearman(self.llm, self.critics)),
            "summary_grounding_rate": self.grounded.rate(),
        }


def score_enrichments(
    pairs: Iterable[tuple[TitleInput, Enriched]],
    *,
    min_overlap: float,
    expectations: dict[str, Expectation] | None = None,
) -> dict[str, Any]:
    """The quality metrics of enriched titles (operational figures are added by the caller)."""
    tally = _Tally()
    for title, enriched in pairs:
        tally.add(title, enriched, min_overlap)
        if expectations and title.id in expectations:
            tally.expected.add(*expectations[title.id].check(enriched))
    metrics = tally.metrics()
    if expectations is not None:
        metrics["expected_met_rate"] = tally.expected.rate()
    return metrics


# ---- one evaluation --------------------------------------------------------------------------------
@dataclass
class Evaluation:
    dataset: str  # "warehouse" | "eval_set"
    provider: str
    model: str
    prompt_version: str
    as_of: date | None
    target: str
    metrics: dict[str, Any]
    eval_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    evaluated_at: Any = field(default_factory=utcnow)
    gate: str | None = None  # "pass" | "fail" | None (not gated)
    details: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None  # the pipeline run that made this evaluation (its run report), if any

    def label(self) -> str:
        return f"{self.provider}/{self.model} prompt {self.prompt_version}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "eval_id": self.eval_id,
            "evaluated_at": self.evaluated_at.isoformat(),
            "dataset": self.dataset,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "target": self.target,
            "provider": self.provider,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "metrics": self.metrics,
            "gate": self.gate,
            "run_id": self.run_id,
            "details": self.details,
        }


def operational(
    titles: int, failures: int, validation_retries: int, cost: float, calls: int
) -> dict[str, Any]:
    per = titles + failures
    return {
        "failures": failures,
        "failure_rate": round(failures / per, 4) if per else None,
        "validation_retries": validation_retries,
        "validation_retries_per_title": round(validation_retries / per, 4) if per else None,
        "cost_per_title_usd": round(cost / per, 8) if per else None,
        "calls": calls,
    }


# ---- storage: ops.enrichment_evals -------------------------------------------------------------------
_METRIC_COLUMNS = "\n".join(f"    {name} double precision," for name in METRICS)
_COUNT_COLUMNS = "\n".join(f"    {name} bigint," for name in COUNTS)
DDL = f"""
create table if not exists {TABLE} (
    eval_id varchar(64) not null,
    evaluated_at timestamp not null,
    dataset varchar(32) not null,
    as_of date,
    target varchar(16),
    provider varchar(32) not null,
    model varchar(128) not null,
    prompt_version varchar(32) not null,
{_COUNT_COLUMNS}
{_METRIC_COLUMNS}
    gate varchar(8),
    run_id varchar(64),
    details varchar(65535)
)
"""
COLUMNS = (
    "eval_id",
    "evaluated_at",
    "dataset",
    "as_of",
    "target",
    "provider",
    "model",
    "prompt_version",
    *COUNTS,
    *METRICS,
    "gate",
    "run_id",
    "details",
)


def store(warehouse: Warehouse, evaluations: Sequence[Evaluation]) -> None:
    """Append the evaluations to ``ops.enrichment_evals`` (created on first use, like ``ops.pipeline_runs``)."""
    if not evaluations:
        return
    with warehouse.connect() as conn:
        cur = conn.cursor()
        cur.execute(f"create schema if not exists {OPS}")
        cur.execute(DDL)
    rows = []
    for ev in evaluations:
        m = ev.metrics
        rows.append(
            (
                ev.eval_id,
                ev.evaluated_at.replace(tzinfo=None),
                ev.dataset,
                ev.as_of,
                ev.target,
                ev.provider,
                ev.model,
                ev.prompt_version,
                *(m.get(name) for name in COUNTS),
                *(m.get(name) for name in METRICS),
                ev.gate,
                ev.run_id,
                json.dumps(ev.details, default=str, sort_keys=True)[:60000],
            )
        )
    markers = ", ".join("?" for _ in COLUMNS)
    warehouse.executemany(f"insert into {TABLE} ({', '.join(COLUMNS)}) values ({markers})", rows)  # nosec B608  # noqa: S608 - constant identifiers: TABLE, COLUMNS (this module); values are bound


def history(warehouse: Warehouse, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent stored evaluations, newest first."""
    if not warehouse.table_exists(OPS, "enrichment_evals"):
        return []
    return warehouse.fetch_all(
        f"select {', '.join(COLUMNS)} from {TABLE} order by evaluated_at desc limit {int(limit)}"  # nosec B608  # noqa: S608 - constant identifiers: TABLE, COLUMNS (this module); the limit is int()
    )


def for_run(warehouse: Warehouse, run_id: str) -> list[dict[str, Any]]:
    """The evaluations a pipeline run stored (its run report shows them)."""
    if not warehouse.table_exists(OPS, "enrichment_evals"):
        return []
    return warehouse.fetch_all(
        f"select {', '.join(COLUMNS)} from {TABLE} where run_id = ? order by provider, model, prompt_version",  # nosec B608  # noqa: S608 - constant identifiers: TABLE, COLUMNS (this module)
        [run_id],
    )


# ---- evaluating what the warehouse holds -------------------------------------------------------------
def _retries_by_label(warehouse: Warehouse, as_of: date | None) -> dict[tuple[str, str, str], int]:
    """Validation retries the enrich step reported per (provider, model, prompt_version), from ops.pipeline_runs."""
    if not warehouse.table_exists(OPS, "pipeline_runs"):
        return {}
    sql = f"select details from {OPS}.pipeline_runs where step = 'enrich_titles' and status = 'ok'"  # nosec B608  # noqa: S608 - constant identifiers: OPS (core.warehouse)
    rows = warehouse.fetch_all(sql + (" and as_of = ?" if as_of else ""), [as_of] if as_of else [])
    totals: dict[tuple[str, str, str], int] = {}
    for row in rows:
        details = json.loads(row["details"] or "{}")
        key = (str(details.get("provider")), str(details.get("model")), str(details.get("prompt_version")))
        # The runner counts validation and transient retries together as ``retries`` unless it reports
        # ``validation_retries`` separately.
        retries = details.get("validation_retries", details.get("retries", 0)) or 0
        totals[key] = totals.get(key, 0) + int(retries)
    return totals


def _latest_as_of(warehouse: Warehouse) -> date | None:
    if not warehouse.table_exists(OPS, "pipeline_runs"):
        return None
    rows = warehouse.fetch_all(f"select max(as_of) as as_of from {OPS}.pipeline_runs")  # nosec B608  # noqa: S608 - constant identifiers: OPS (core.warehouse)
    return rows[0]["as_of"] if rows and rows[0]["as_of"] else None


def _require_tables(warehouse: Warehouse) -> None:
    for schema, table in ((INPUT.schema, INPUT.name), (RAW_ENRICHMENT, "title_enrichments")):
        if not warehouse.table_exists(schema, table):
            raise RuntimeError(f"{schema}.{table} does not exist: run the pipeline (trending-now run) first")


def _stored_by_label(warehouse: Warehouse) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """The current inputs joined to their stored enrichments, per (provider, model, prompt_version)."""
    rows = warehouse.fetch_all(
        f"select i.*, e.status, e.review_summary, e.score, e.vibe_tags, e.primary_genre, e.secondary_genres, "  # nosec B608  # noqa: S608 - constant identifiers: INPUTS, ENRICHMENTS (this module)
        f"e.cost_usd, e.provider, e.model, e.prompt_version from {INPUTS} i join {ENRICHMENTS} e "
        "on e.id = i.id and e.source_data_hash = i.source_data_hash order by i.id"
    )
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["provider"], row["model"], row["prompt_version"]), []).append(row)
    return groups


def _group_metrics(group: list[dict[str, Any]], min_overlap: float, retries: int) -> dict[str, Any]:
    """Quality and operational metrics of one label's stored rows (a title counts as failed only without
    an ok row)."""
    ok = {r["id"]: r for r in group if r["status"] == "ok"}
    failed = {r["id"] for r in group if r["status"] != "ok"} - set(ok)
    pairs = [(parse_input_row(r), Enriched.from_row(r)) for r in ok.values()]
    metrics = score_enrichments(pairs, min_overlap=min_overlap)
    cost = sum(float(r["cost_usd"] or 0) for r in group)
    return metrics | operational(len(ok), len(failed), retries, cost, 0)


def evaluate_warehouse(
    warehouse: Warehouse, settings: Settings, as_of: date | None = None
) -> list[Evaluation]:
    """Score the stored enrichments of the current inputs, one evaluation per provider/model/prompt_version."""
    _require_tables(warehouse)
    min_overlap = settings.typed.eval.grounding_min_overlap
    groups = _stored_by_label(warehouse)
    as_of = as_of or _latest_as_of(warehouse)
    retries = _retries_by_label(warehouse, as_of)
    return [
        Evaluation(
            "warehouse",
            *label,
            as_of,
            warehouse.target,
            _group_metrics(group, min_overlap, retries.get(label, 0)),
        )
        for label, group in sorted(groups.items())
    ]


def evaluate_run(warehouse: Warehouse, settings: Settings, run_id: str) -> list[Evaluation]:
    """When the run's enrich step succeeded: evaluate what the warehouse holds and store it labelled with the
    run (its run report shows it); nothing when the run did not complete ``enrich_titles``."""
    if not warehouse.table_exists(OPS, "pipeline_runs"):
        return []
    rows = warehouse.fetch_all(
        f"select as_of from {OPS}.pipeline_runs where run_id = ? and step = 'enrich_titles' and status = 'ok'",  # nosec B608  # noqa: S608 - constant identifiers: OPS (core.warehouse)
        [run_id],
    )
    if not rows:
        return []
    found = evaluate_warehouse(warehouse, settings, rows[0]["as_of"])
    for ev in found:
        ev.run_id = run_id
    store(warehouse, found)
    return found


# ---- the evaluation set -----------------------------------------------------------------------------
def load_set(path: Path) -> tuple[list[TitleInput], dict[str, Expectation]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    titles, expectations = [], {}
    for item in data["titles"]:
        title = TitleInput.model_validate(item["input"])
        titles.append(title)
        expectations[title.id] = Expectation.from_dict(item["expected"])
    return titles, expectations


def warehouse_inputs(warehouse: Warehouse) -> list[TitleInput]:
    """The enrichment inputs a demo run built from data/samples."""
    rows = warehouse.fetch_all(f"select * from {INPUTS} order by id")  # nosec B608  # noqa: S608 - constant identifiers: INPUTS (this module)
    return [parse_input_row(row) for row in rows]


def build_set(
    titles: Sequence[TitleInput], labels: dict[str, list[str]], bands: ScoreBands
) -> dict[str, Any]:
    """The evaluation set: fixed inputs and their expectations (:func:`expect`); every title needs a label."""
    unlabelled = sorted(t.id for t in titles if t.id not in labels)
    if unlabelled:
        raise ValueError(f"no genre label for {', '.join(unlabelled)}: add them to eval.labels_path")
    items = [
        {"input": t.model_dump(mode="json"), "expected": expect(t, bands, labels[t.id]).as_dict()}
        for t in sorted(titles, key=lambda t: t.id)
    ]
    return {
        "about": "Fixed enrichment inputs from data/samples (trending-now demo, as of 2026-11-20) and the "
        "expectations any acceptable enrichment meets: the critics' consensus score band and the primary "
        "genres a reviewer labelled from the source genres and the synopsis (data/eval/labels.csv); rebuild "
        "with scripts/build_eval_set.py.",
        "score_bands": bands.model_dump(),
        "titles": items,
    }


def run_provider(
    settings: Settings, titles: list[TitleInput]
) -> tuple[str, str, dict[str, Enriched], dict[str, Any]]:
    """Enrich ``titles`` with the configured provider (enrich's own job logic: budget, rate limit, retries);
    nothing is written to the side table. Returns provider, model, results, operations."""
    trial = enrich_without_storing(settings, titles)
    results = {k: Enriched.from_model(v) for k, v in trial.ok.items()}
    usage = trial.usage
    ops = operational(len(results), len(trial.failed), trial.invalid_answers, usage.cost_usd, trial.calls)
    ops_details = {
        "failed": dict(sorted(trial.failed.items())),
        "cost_usd": round(usage.cost_usd, 6),
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
    }
    if trial.fatal:
        ops_details["fatal"] = trial.fatal
    return trial.provider, trial.model, results, {**ops, "_details": ops_details}


def evaluate_set(
    warehouse: Warehouse, settings: Settings, path: Path | None = None, as_of: date | None = None
) -> Evaluation:
    """Run the configured provider on the evaluation set and score it."""
    path = path or settings.path("eval.set_path")
    titles, expectations = load_set(path)
    provider, model, results, ops = run_provider(settings, titles)
    details = ops.pop("_details")
    by_id = {t.id: t for t in titles}
    pairs = [(by_id[i], e) for i, e in sorted(results.items())]
    metrics = score_enrichments(
        pairs, min_overlap=settings.typed.eval.grounding_min_overlap, expectations=expectations
    )
    metrics |= ops
    details["set"] = str(path.name)
    return Evaluation(
        "eval_set",
        provider,
        model,
        prompt_version(),
        as_of,
        warehouse.target,
        metrics,
        details=details,
    )


# ---- the gate ---------------------------------------------------------------------------------------
@dataclass
class Comparison:
    metric: str
    baseline: float | None
    candidate: float | None
    tolerance: float
    regressed: bool

    def line(self) -> str:
        def fmt(v: float | None) -> str:
            return "-" if v is None else f"{v:.4g}"

        verdict = "REGRESSION" if self.regressed else "ok"
        return (
            f"  {self.metric:<38} baseline {fmt(self.baseline):>9}  now {fmt(self.candidate):>9}  "
            f"tolerance {self.tolerance:g} ({METRICS[self.metric]} is better)  {verdict}"
        )


def tolerances(settings: Settings) -> dict[str, float]:
    configured = settings.section("eval").get("tolerances") or {}
    missing = [m for m in METRICS if m not in configured]
    if missing:
        raise ConfigError(f"eval.tolerances lacks {', '.join(missing)} (config/base.yaml)")
    return {m: float(configured[m]) for m in METRICS}


def compare(candidate: dict[str, Any], baseline: dict[str, Any], tol: dict[str, float]) -> list[Comparison]:
    """Each metric against the baseline; worse by more than its tolerance (or lost) is a regression."""
    result = []
    for metric, better in METRICS.items():
        base, now = baseline.get(metric), candidate.get(metric)
        if base is None:
            regressed = False
        elif now is None:
            regressed = True
        else:
            worse = (base - now) if better == "higher" else (now - base)
            regressed = worse > tol[metric] + 1e-9
        result.append(Comparison(metric, base, now, tol[metric], regressed))
    return result


def read_baseline(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def accept(path: Path, evaluation: Evaluation) -> None:
    """Record ``evaluation`` as its provider's accepted baseline (a reviewed change to a committed file)."""
    baseline = read_baseline(path)
    baseline[evaluation.provider] = {
        "model": evaluation.model,
        "prompt_version": evaluation.prompt_version,
        "metrics": {k: evaluation.metrics.get(k) for k in (*COUNTS, *METRICS)},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(baseline, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def gate(settings: Settings, evaluation: Evaluation) -> tuple[bool, list[Comparison], dict[str, Any] | None]:
    """Compare with the provider's accepted baseline; (passed, comparisons, baseline entry)."""
    entry = read_baseline(settings.path("eval.baseline_path")).get(evaluation.provider)
    if not entry:
        return False, [], None
    comparisons = compare(evaluation.metrics, entry["metrics"], tolerances(settings))
    passed = not any(c.regressed for c in comparisons)
    evaluation.gate = "pass" if passed else "fail"
    evaluation.details["baseline"] = {k: entry.get(k) for k in ("model", "prompt_version")}
    return passed, comparisons, entry


# ---- before a deploy ---------------------------------------------------------------------------------
@dataclass
class DeployGate:
    """What :func:`check_before_deploy` decided: ``passed``; ``ran`` (False: nothing the gate covers changed);
    the lines to print (the evaluation and its comparisons, or why it did not pass)."""

    passed: bool
    ran: bool
    lines: list[str] = field(default_factory=list)
    evaluation: Evaluation | None = None


def gemini_change(settings: Settings) -> str | None:
    """What a deploy would change in what Gemini is asked, against the accepted Gemini baseline: the model
    (``enrich.model``) or ``PROMPT_VERSION``; None when both match it."""
    entry = read_baseline(settings.path("eval.baseline_path")).get("gemini") or {}
    model, version = str(settings.require("enrich.model")), prompt_version()
    changed = [
        f"{name} {entry.get(key)} -> {now}"
        for name, key, now in (("model", "model", model), ("prompt", "prompt_version", version))
        if entry.get(key) != now
    ]
    return ", ".join(changed) or None


def check_before_deploy(warehouse: Warehouse, settings: Settings, *, always: bool = False) -> DeployGate:
    """``trending-now eval --set --check`` for CD, with the production key: when the model or the prompt
    version differs from the accepted Gemini baseline (or ``always``), run Gemini on the evaluation set and
    gate it against that baseline. Its first call goes alone; a fatal answer (revoked key, location, billing,
    unknown model) fails the gate after that one call. The result is stored in ``ops.enrichment_evals``."""
    change = gemini_change(settings)
    if change is None and not always:
        return DeployGate(True, False, ["eval gate: model and prompt match the accepted Gemini baseline"])
    if resolve_provider_name(settings) != "gemini":
        return DeployGate(
            False, False, ["eval gate: the gate must run Gemini: set GEMINI_API_KEY (the production key)"]
        )
    found = evaluate_set(warehouse, settings)
    lines = [f"eval gate: {change or 'forced'}", describe(found)]
    if found.details.get("fatal"):
        store(warehouse, [found])
        return DeployGate(False, True, [*lines, f"eval gate: {found.details['fatal']}"], found)
    passed, comparisons, entry = gate(settings, found)
    store(warehouse, [found])
    if entry is None:
        lines.append(
            "eval gate: no accepted Gemini baseline: accept one with `trending-now eval --set --accept`"
        )
    lines += [c.line() for c in comparisons]
    return DeployGate(passed, True, lines, found)


# ---- text output -------------------------------------------------------------------------------------
def describe(evaluation: Evaluation) -> str:
    m = evaluation.metrics

    def pct(name: str) -> str:
        return "-" if m.get(name) is None else f"{m[name] * 100:.1f}%"

    def num(name: str, spec: str = ".2f") -> str:
        return "-" if m.get(name) is None else format(m[name], spec)

    lines = [
        f"{evaluation.dataset} · {evaluation.label()} · {m['titles']} titles"
        + (f" · as of {evaluation.as_of}" if evaluation.as_of else ""),
        f"  primary genre in source genres  {pct('primary_genre_in_source_rate')}",
        f"  secondary genres in vocabulary  {pct('secondary_genres_in_vocabulary_rate')}",
        f"  vibe tags in mood vocabulary    {pct('vibe_tags_in_vocabulary_rate')}",
        f"  score vs critics ({m['score_titles']} titles)   MAE {num('score_mae')}  "
        f"Spearman {num('score_spearman')}",
        f"  summary sentences grounded      {pct('summary_grounding_rate')}",
        f"  failures {m['failures']} ({pct('failure_rate')})  validation retries {m['validation_retries']}  "
        f"cost/title ${num('cost_per_title_usd', '.6f')}",
    ]
    if "expected_met_rate" in m:
        lines.append(f"  expectations met                {pct('expected_met_rate')}")
    return "\n".join(lines)
