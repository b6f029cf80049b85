"""The demo studio: a small schema, a synthetic dump and example marts, run end to end on DuckDB."""
