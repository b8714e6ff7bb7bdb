"""LLM enrichment of titles: one structured call per title, cached in ``raw_enrichment.title_enrichments``."""
