"""The countries a run lists: the one owner of the valid codes, their parsing and validation.

``run.countries`` (config/base.yaml, default ``[US]``) is the list; the CLI's ``--country US,GB`` and the
DAG's ``country`` param override it. The first country is the run's **primary country**: the published
mart's ``streaming_platforms`` (v1) holds the services of that country (docs: dbt_project/README.md).
An unknown code fails with one line (:class:`~core.config.ConfigError`) before any request is made.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from core.config import ConfigError, Settings

# The markets JustWatch serves (ISO 3166-1 alpha-2, as its GraphQL ``Country`` type takes them; the web
# paths spell GB as ``/uk/``). A code outside this list is rejected before any request.
JUSTWATCH_COUNTRIES: frozenset[str] = frozenset(
    """
    AD AE AG AL AO AR AT AU AZ BA BB BE BF BG BH BM BO BR BS BY BZ CA CD CH CI CL CM CO CR CU CV CY CZ DE DK
    DO DZ EC EE EG ES FI FJ FR GB GF GG GH GI GQ GR GT GY HK HN HR HU ID IE IL IN IQ IS IT JM JO JP KE KR KW
    LB LC LI LT LU LV LY MA MC MD ME MG MK ML MT MU MW MX MY MZ NE NG NI NL NO NZ OM PA PE PF PG PH PK PL PS
    PT PY QA RO RS RU SA SC SE SG SI SK SM SN SV TC TD TH TN TR TT TW TZ UA UG US UY VA VE XK YE ZA ZM ZW
    """.split()  # noqa: SIM905 - a block of codes reads better than 140 quoted strings
)
SETTING = "run.countries"


def parse_countries(value: Any, *, where: str = SETTING) -> tuple[str, ...]:
    """``"us, gb"``, ``["US", "GB"]`` or ``"US"`` -> ``("US", "GB")``: upper-cased, order kept, repeats dropped.

    Raises :class:`ConfigError` (one line naming ``where``) for an empty list or an unknown code.
    """
    items: Iterable[Any] = value.split(",") if isinstance(value, str) else (value or ())
    codes = tuple(dict.fromkeys(str(item).strip().upper() for item in items if str(item).strip()))
    if not codes:
        raise ConfigError(f"{where}: no country given (use ISO codes JustWatch serves, e.g. US,GB,DE)")
    unknown = [code for code in codes if code not in JUSTWATCH_COUNTRIES]
    if unknown:
        raise ConfigError(
            f"{where}: unknown country code(s) {', '.join(unknown)}: use two-letter ISO codes JustWatch "
            "serves, e.g. US, GB, DE, FR, CA"
        )
    return codes


def configured_countries(settings: Settings) -> tuple[str, ...]:
    """The run's countries from the settings (``run.countries``), validated."""
    return parse_countries(settings.require(SETTING))


def primary_country(countries: Sequence[str]) -> str:
    """The first country: its services are the published mart's ``streaming_platforms``."""
    return countries[0]
