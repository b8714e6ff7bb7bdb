"""Critics' and members' reviews for the new titles: TMDB, RogerEbert.com and The Guardian, loaded by dlt."""

from extract.reviews.source import reviews_source

__all__ = ["reviews_source"]
