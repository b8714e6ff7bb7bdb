"""Which enrichment provider a run uses, made from the settings (``enrich.provider``)."""

from __future__ import annotations

from core.config import Settings
from enrich.providers.base import Provider
from enrich.providers.heuristic import MODEL as HEURISTIC_MODEL
from enrich.providers.heuristic import HeuristicProvider


def resolve_provider_name(settings: Settings) -> str:
    """``enrich.provider``, with ``auto`` resolved: Gemini when its API key is set, else the heuristic."""
    name = settings.typed.enrich.provider
    if name == "auto":
        return "gemini" if settings.secrets.get("GEMINI_API_KEY") else "heuristic"
    return name


def resolve_model(settings: Settings) -> tuple[str, str]:
    """(provider, model) a run would use, without making a client (no key needed, no SDK import)."""
    provider = resolve_provider_name(settings)
    return provider, str(settings.require("enrich.model")) if provider == "gemini" else HEURISTIC_MODEL


def make_provider(settings: Settings) -> Provider:
    """The configured provider, ready to call; the caller closes it."""
    if resolve_provider_name(settings) == "gemini":
        # The Gemini SDK is heavy to import: only a run that uses it pays for it.
        from enrich.providers.gemini import GeminiConfig, GeminiProvider  # noqa: PLC0415 - SDK import only when used

        return GeminiProvider(
            GeminiConfig.from_settings(settings), settings.secrets.get("GEMINI_API_KEY") or ""
        )
    return HeuristicProvider()
