"""``sg2dbt load``: copy SG records into the raw tables, full first and incremental after (docs/loader.md)."""

from sg2dbt.loader.reader import DumpSource, SiteSource
from sg2dbt.loader.run import LoadOptions, LoadSummary, load

__all__ = ["DumpSource", "LoadOptions", "LoadSummary", "SiteSource", "load"]
