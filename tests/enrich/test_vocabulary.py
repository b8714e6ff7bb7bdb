from __future__ import annotations

import csv
from typing import get_args

import pytest
import yaml

from core.dbt_relations import DBT_PROJECT_DIR
from core.vocabulary import (
    VocabularyError,
    parse_vibe_tags,
    seed_column,
    seed_path,
    vibe_tag_names,
    vibe_tags,
)
from enrich.prompt import SYSTEM_INSTRUCTION
from enrich.schema import TitleEnrichment
from enrich.vocabulary import VibeTag


def test_the_seed_is_the_one_list_the_prompt_schema_and_tests_read() -> None:
    with seed_path().open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    names = tuple(row["tag"] for row in rows)
    assert vibe_tag_names() == names and len(names) >= 20
    assert get_args(VibeTag) == names  # the response schema's enum
    schema = TitleEnrichment.model_json_schema()["properties"]["vibe_tags"]
    assert schema["items"]["enum"] == list(names)
    for tag in vibe_tags():  # the prompt lists every tag with its description
        assert f"- {tag.tag}: {tag.description}" in SYSTEM_INSTRUCTION
    assert seed_column("ref('vibe_tags')", "tag") == names  # what dbt's test and the GE gate accept


def test_the_seed_is_documented_and_the_mart_test_points_at_it() -> None:
    seeds = yaml.safe_load((DBT_PROJECT_DIR / "seeds" / "_seeds__properties.yml").read_text())["seeds"]
    entry = next(s for s in seeds if s["name"] == "vibe_tags")
    assert [c["name"] for c in entry["columns"]] == ["tag", "description"]
    marts = yaml.safe_load((DBT_PROJECT_DIR / "models" / "marts" / "_marts__models.yml").read_text())
    audit = next(m for m in marts["models"] if m["name"] == "movies_tv_shows_enriched_audit")
    test = next(t["csv_items_accepted"] for t in audit["data_tests"] if "csv_items_accepted" in t)
    assert test["arguments"]["column_name"] == "llm_generated_vibe_tags"
    assert test["arguments"]["to"] == "ref('vibe_tags')" and test["arguments"]["field"] == "tag"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("tag,description\n", "no tags"),
        ("name,description\ndark,Bleak.\n", "columns"),
        ("tag,description\nDark,Bleak.\n", "lowercase"),
        ('tag,description\n"dark,grim",Bleak.\n', "lowercase"),
        ("tag,description\ndark,\n", "described"),
        ("tag,description\ndark,Bleak.\ndark,Grim.\n", "twice"),
    ],
)
def test_a_broken_seed_is_refused_with_its_line(text: str, problem: str) -> None:
    with pytest.raises(VocabularyError, match=problem):
        parse_vibe_tags(text)


def test_only_a_seed_ref_names_a_vocabulary() -> None:
    with pytest.raises(VocabularyError, match="ref"):
        seed_column("source('x', 'y')", "tag")
