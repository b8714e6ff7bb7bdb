"""dlt sources that extract raw data: JustWatch new releases and critics' reviews."""
