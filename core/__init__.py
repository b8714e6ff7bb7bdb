"""The core every step may import: settings, run context, warehouse, redaction, the raw-table and mart contracts.

It imports nothing from the steps (extract, enrich, transform, quality, publish) or the composition root
(trending_now, dags); ``make lint`` checks that with import-linter (see docs/architecture.md).
"""
