"""The fixed vocabularies the enrichment answers in, as the types its response schema sends to Gemini.

Both are owned by :mod:`core.vocabulary`: the primary genres (JustWatch's genre names, shared with dbt's
``accepted_values`` test) and the vibe tags (the dbt seed ``vibe_tags``). :data:`Genre` and :data:`VibeTag`
are their ``Literal`` types, which the response schema sends to Gemini as enums.
"""

from __future__ import annotations

from typing import Literal

from core.vocabulary import PRIMARY_GENRES, vibe_tag_names, vibe_tags

Genre = Literal[PRIMARY_GENRES]  # type: ignore[valid-type]  # the vocabulary's genres, in its order
VIBE_TAGS: tuple[str, ...] = vibe_tag_names()
VibeTag = Literal[VIBE_TAGS]  # type: ignore[valid-type]  # the seed's tags, in its order


def vibe_tag_lines() -> str:
    """The vocabulary as the prompt lists it: one ``- tag: description`` line per tag, in the seed's order."""
    return "\n".join(f"- {t.tag}: {t.description}" for t in vibe_tags())
