"""Critics' and members' reviews for the new titles: TMDB, RogerEbert.com and The Guardian, loaded by dlt.

Entry points: :func:`extract.reviews.step.extract_reviews` (the pipeline step) and
:func:`extract.reviews.source.reviews_source` (the dlt source).
"""
