"""Trending Now: daily ELT of this week's streaming releases, enriched by an LLM."""

__version__ = "0.1.0"
