"""JustWatch new releases: a dlt source over JustWatch's GraphQL ``newTitles`` connection.

Entry points: :func:`extract.justwatch.step.extract_releases` (the pipeline step) and
:func:`extract.justwatch.source.justwatch_source` (the dlt source).
"""
