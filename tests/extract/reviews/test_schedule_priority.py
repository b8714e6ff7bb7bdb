"""The review budgets are global across countries: when they are short, titles listed in more countries go first."""

from __future__ import annotations

from datetime import date

from core.config import parse_settings
from extract.reviews import schedule
from extract.reviews.settings import ReviewsSettings

AS_OF = date(2026, 11, 20)


def row(title_id: str, countries: int, listed: date, score: float | None = None) -> dict:
    return {"title_id": title_id, "countries_listed": countries, "last_listed_on": listed, "imdb_score": score}


def test_titles_listed_in_more_countries_are_planned_first() -> None:
    rows = [
        row("tm1", 1, AS_OF, 9.0),
        row("tm2", 5, date(2026, 11, 15), 5.0),
        row("tm3", 2, AS_OF, 6.0),
        row("tm4", 2, AS_OF, 8.0),
        {"title_id": "tm5", "last_listed_on": AS_OF, "imdb_score": None},  # a model without the column: 1 country
    ]
    day = schedule.Day(AS_OF, date(2026, 11, 14), ReviewsSettings.from_settings(parse_settings("dev", environ={})))
    planned = schedule.plan(rows, {}, day, ("tmdb",))
    assert [p.row["title_id"] for p in planned] == ["tm2", "tm4", "tm3", "tm1", "tm5"]
    assert all(p.reasons == {"tmdb": "new"} for p in planned)  # one fetch per title, whatever its countries
