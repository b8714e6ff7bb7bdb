"""The run report and the enrichment evaluation: read from the warehouse, written as pages and rows."""
