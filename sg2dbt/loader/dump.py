"""``sg2dbt dump``: a site's records as the JSON-lines files ``sg2dbt load --from-dump`` reads, and the
dump's manifest, which says when the dump was taken and how many records each file holds.

Why a manifest: a load's high-water mark must not pass the moment the records were read, or a record
changed while the dump was written (after its id was passed) is skipped for good by the next incremental
load; and an empty or truncated file must not be taken for the whole entity, or a full reload empties the
table. ``_manifest.json`` (no entity name starts with '_') is written last, after every file is complete.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sg2dbt.core.convert import Record, RowConverter
from sg2dbt.core.errors import LoadError
from sg2dbt.core.layout import RawLayout, RawTable
from sg2dbt.core.values import to_utc

if TYPE_CHECKING:
    from sg2dbt.loader.reader import SiteSource

MANIFEST = "_manifest.json"
FORMAT = "sg2dbt-dump/1"
UTC = dt.timezone.utc
# Faithful to what the site returned: NaN stays NaN, a lone surrogate is written as its \\uXXXX escape
# (the file's errors="backslashreplace"); the loader then refuses such values by entity, id and field.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False,
                            default=lambda v: v.isoformat() if isinstance(v, (dt.date, dt.time)) else str(v))


@dataclass(frozen=True)
class EntityCounts:
    started_at: dt.datetime
    live: int
    retired: int


@dataclass(frozen=True)
class Manifest:
    """When a dump was started, and per entity when its files were started and how many records they hold."""

    started_at: dt.datetime
    entities: Mapping[str, EntityCounts] = field(default_factory=dict)

    def as_json(self) -> str:
        return json.dumps({"format": FORMAT, "started_at": self.started_at.isoformat(),
                           "entities": {name: {"started_at": c.started_at.isoformat(), "live": c.live,
                                               "retired": c.retired}
                                        for name, c in sorted(self.entities.items())}}, indent=1) + "\n"


def read_manifest(directory: Path) -> Manifest | None:
    """The dump's manifest, None when it has none; a damaged one is an error naming the file."""
    path = directory / MANIFEST
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"not an {FORMAT} manifest")
        entities = {str(name): EntityCounts(to_utc(c["started_at"]), _count(c["live"]), _count(c["retired"]))
                    for name, c in doc["entities"].items()}
        return Manifest(to_utc(doc["started_at"]), entities)
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc) or type(exc).__name__
        raise LoadError(f"{path}: damaged dump manifest: {detail[:200]}") from None


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"a record count must be a non-negative integer, got {value!r:.40}")
    return value


def file_name(entity: str, *, retired: bool, suffix: str = ".jsonl") -> str:
    """``<Entity>.jsonl`` / ``<Entity>.retired.jsonl``: the one spelling of a dump file's name."""
    return f"{entity}.retired{suffix}" if retired else f"{entity}{suffix}"


# What ``load --from-dump`` reads, in this order: JSON lines (what ``dump`` writes, streamed) or a JSON list.
SUFFIXES = (".jsonl", ".json")


def write_records(path: Path, records: Iterable[Record]) -> int:
    """One record a line, written under ``<name>.part`` and renamed when complete (never a half file)."""
    tmp = path.with_name(path.name + ".part")
    n = 0
    try:
        with tmp.open("w", encoding="utf-8", errors="backslashreplace", newline="\n") as fh:
            for rec in records:
                fh.write(_ENCODER.encode(rec))
                fh.write("\n")
                n += 1
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n


def _write_file(source: SiteSource, raw: RawTable, fields: list[str], directory: Path, retired: bool) -> int:
    pages = source.pages(raw.entity.name, fields, retired=retired, ordered=True)   # files sorted by id
    return write_records(directory / file_name(raw.entity.name, retired=retired),
                         (rec for page in pages for rec in page))


def write_dump(source: SiteSource, layout: RawLayout, directory: Path,
               progress: Any = None) -> Manifest:
    """Write ``<Entity>.jsonl`` and ``<Entity>.retired.jsonl`` for every entity (sorted by id), then the
    manifest. Each file is written under a temporary name and renamed when complete; the old manifest is
    removed first, so a dump interrupted half-way is never taken for a complete one. Entities of an
    earlier dump into the same directory that this one does not write keep their manifest entries."""
    try:
        earlier = read_manifest(directory) if directory.is_dir() else None
    except LoadError:
        earlier = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / MANIFEST).unlink(missing_ok=True)
    except OSError as exc:
        raise LoadError(f"{directory}: cannot write the dump: {exc.strerror or exc}") from None
    started = dt.datetime.now(UTC)
    entities: dict[str, EntityCounts] = dict(earlier.entities) if earlier else {}
    for raw in layout:
        fields = list(RowConverter(raw).fields)
        entity_started = dt.datetime.now(UTC)
        try:
            live = _write_file(source, raw, fields, directory, False)
            retired = _write_file(source, raw, fields, directory, True)
        except OSError as exc:
            raise LoadError(f"{directory}: cannot write {raw.entity.name}: {exc.strerror or exc}") from None
        entities[raw.entity.name] = EntityCounts(entity_started, live, retired)
        if progress is not None:
            progress(raw.entity.name, live, retired)
    manifest = Manifest(min(started, earlier.started_at) if earlier else started, entities)
    tmp = directory / (MANIFEST + ".part")
    tmp.write_text(manifest.as_json(), encoding="utf-8")
    os.replace(tmp, directory / MANIFEST)
    return manifest
