"""Delivery of the published mart: the versioned Parquet export and its DVC snapshot."""
