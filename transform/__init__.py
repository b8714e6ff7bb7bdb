"""The dbt steps of the daily job: build the models in order, check source freshness, publish the audited mart."""
