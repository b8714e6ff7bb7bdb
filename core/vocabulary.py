"""The enrichment's vocabularies: the primary genres (below) and the vibe tags (read from their dbt seed).

The primary genres are JustWatch's genre names, shared with dbt's ``accepted_values`` test; other sources'
spellings map to them (:func:`to_vocabulary`). The response schema (``enrich.vocabulary``) makes both enums.

The vibe tags are the one list of mood tags the enrichment may use.
Its one owner is ``dbt_project/seeds/vibe_tags.csv`` (a tag and a one-line description per row, columns
described in ``dbt_project/seeds/_seeds__properties.yml``). The prompt lists it, the response schema makes
it an enum, dbt's ``csv_items_accepted`` test and the Great Expectations gate check the published tags
against it, and the evaluation scores against it. Changing the seed changes what the model is asked:
bump ``enrich.prompt.PROMPT_VERSION`` with it.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from core.dbt_relations import DBT_PROJECT_DIR

PRIMARY_GENRES: tuple[str, ...] = (
    "Action & Adventure",
    "Animation",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "History",
    "Horror",
    "Kids & Family",
    "Music & Musical",
    "Mystery & Thriller",
    "Romance",
    "Science-Fiction",
    "Sport",
    "War & Military",
    "Western",
    "Reality TV",
)

# JustWatch genre short names -> vocabulary ("eur", Made in Europe, is not a genre and maps to nothing).
JUSTWATCH_GENRE_CODES: dict[str, str] = {
    "act": "Action & Adventure",
    "ani": "Animation",
    "cmy": "Comedy",
    "crm": "Crime",
    "doc": "Documentary",
    "drm": "Drama",
    "fnt": "Fantasy",
    "hst": "History",
    "hrr": "Horror",
    "fml": "Kids & Family",
    "msc": "Music & Musical",
    "trl": "Mystery & Thriller",
    "rma": "Romance",
    "scf": "Science-Fiction",
    "spt": "Sport",
    "war": "War & Military",
    "wsn": "Western",
    "rly": "Reality TV",
}

# Common spellings from other sources (TMDB, review sites) -> vocabulary; keys are lowercase.
GENRE_ALIASES: dict[str, str] = {
    **{name.lower(): name for name in PRIMARY_GENRES},
    "action": "Action & Adventure",
    "adventure": "Action & Adventure",
    "action & adventure": "Action & Adventure",
    "animated": "Animation",
    "anime": "Animation",
    "crime drama": "Crime",
    "documentaries": "Documentary",
    "docuseries": "Documentary",
    "family": "Kids & Family",
    "kids": "Kids & Family",
    "children": "Kids & Family",
    "historical": "History",
    "music": "Music & Musical",
    "musical": "Music & Musical",
    "mystery": "Mystery & Thriller",
    "thriller": "Mystery & Thriller",
    "suspense": "Mystery & Thriller",
    "romantic": "Romance",
    "science fiction": "Science-Fiction",
    "sci-fi": "Science-Fiction",
    "sci-fi & fantasy": "Science-Fiction",
    "scifi": "Science-Fiction",
    "sports": "Sport",
    "war": "War & Military",
    "war & politics": "War & Military",
    "military": "War & Military",
    "reality": "Reality TV",
    "reality-tv": "Reality TV",
}


def to_vocabulary(label: str) -> str | None:
    """Map a source genre (JustWatch code or name in any common spelling) to the vocabulary, or None."""
    key = " ".join(label.strip().lower().split())
    if not key:
        return None
    return JUSTWATCH_GENRE_CODES.get(key) or GENRE_ALIASES.get(key)


VIBE_TAGS_SEED = "vibe_tags"
SEED_DIR = DBT_PROJECT_DIR / "seeds"


@dataclass(frozen=True)
class VibeTag:
    tag: str
    description: str


class VocabularyError(ValueError):
    """The seed file is not a usable vocabulary (missing column, empty, duplicate or malformed tag)."""


def seed_path(name: str = VIBE_TAGS_SEED) -> Path:
    return SEED_DIR / f"{name}.csv"


def parse_vibe_tags(text: str, source: str = VIBE_TAGS_SEED) -> tuple[VibeTag, ...]:
    """The rows of the seed's CSV text; a tag is lowercase, trimmed, without commas, and listed once."""
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or not {"tag", "description"} <= set(reader.fieldnames):
        raise VocabularyError(f"{source}: needs the columns tag,description (got {reader.fieldnames})")
    tags: list[VibeTag] = []
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        tag = _vibe_tag(row, f"{source} line {line}")
        if tag.tag in seen:
            raise VocabularyError(f"{source} line {line}: {tag.tag!r} is listed twice")
        seen.add(tag.tag)
        tags.append(tag)
    if not tags:
        raise VocabularyError(f"{source}: no tags")
    return tuple(tags)


def _vibe_tag(row: dict[str, str | None], where: str) -> VibeTag:
    tag, description = (row.get("tag") or "").strip(), " ".join((row.get("description") or "").split())
    if not tag or tag != tag.lower() or "," in tag or not description:
        raise VocabularyError(f"{where}: a tag must be lowercase, without commas, described")
    return VibeTag(tag, description)


@cache
def vibe_tags(path: Path | None = None) -> tuple[VibeTag, ...]:
    """The vocabulary in the seed's order (cached: read once per process)."""
    path = path or seed_path()
    return parse_vibe_tags(path.read_text(encoding="utf-8"), path.name)


def vibe_tag_names() -> tuple[str, ...]:
    return tuple(t.tag for t in vibe_tags())


_REF = re.compile(r"""^\s*ref\(\s*['"](\w+)['"]\s*\)\s*$""")


def seed_column(to: str, field: str) -> tuple[str, ...]:
    """The values of one column of a seed named as a dbt test names it (``to: "ref('vibe_tags')"``): what
    the ``csv_items_accepted`` test accepts, read from the same file dbt loads."""
    match = _REF.match(to)
    if not match:
        raise VocabularyError(f"{to!r} is not ref('<seed>'): only seeds can hold a vocabulary")
    path = seed_path(match.group(1))
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or field not in rows[0]:
        raise VocabularyError(f"{path.name} has no column {field!r}")
    return tuple(str(row[field]).strip() for row in rows)
