"""``sg2dbt dump``: a site's records as the JSON-lines files ``sg2dbt load --from-dump`` reads."""

from __future__ import annotations

import os
from pathlib import Path

from sg2dbt.core.layout import RawTable
from sg2dbt.loader.convert import RowConverter, json_text
from sg2dbt.loader.reader import SiteSource


def write_dump(source: SiteSource, raw: RawTable, directory: Path) -> tuple[int, int]:
    """Write ``<Entity>.jsonl`` and ``<Entity>.retired.jsonl``, sorted by id; return the record counts.

    Each file is written under a temporary name and renamed when complete, so an interrupted dump never
    leaves a truncated file that a load would take for the whole entity.
    """
    fields = list(RowConverter(raw).fields)
    counts = []
    for retired in (False, True):
        path = directory / f"{raw.entity.name}{'.retired' if retired else ''}.jsonl"
        tmp = path.with_name(path.name + ".part")
        n = 0
        with tmp.open("w", encoding="utf-8") as fh:
            for page in source.pages(raw.entity.name, fields, retired=retired):
                for rec in page:
                    fh.write(json_text(rec))
                    fh.write("\n")
                n += len(page)
        os.replace(tmp, path)
        counts.append(n)
    return counts[0], counts[1]
