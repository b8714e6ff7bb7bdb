"""Enrichment providers: ``gemini`` (google-genai SDK) and ``heuristic`` (deterministic, offline)."""
