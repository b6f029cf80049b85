"""ORM attributes that take values as ``find()`` returns them: date strings, and links as SG dicts.

``SGORM``'s classes use these, and the standalone module (``create_script`` / ``sg2dbt orm``) carries this
file's code verbatim below its imports, so the two behave alike and the module still needs only SQLAlchemy.
Everything between the two ``# --- support`` markers must therefore import nothing beyond ``datetime``,
``typing`` and ``sqlalchemy as sa``.
"""

from __future__ import annotations

import datetime
from typing import Any

import sqlalchemy as sa

# --- support: begin


class SgDate(sa.types.TypeDecorator[datetime.date]):
    """A DATE that also takes SG's 'YYYY-MM-DD' strings (what ``find()`` returns), on every dialect (SQLite's
    DATE refuses strings)."""

    impl = sa.Date
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> datetime.date | None:
        if isinstance(value, str):
            return datetime.date.fromisoformat(value)
        return value


def _sg_link(id_attr: str, type_attr: str, doc: str | None) -> property:
    """The SG view of an entity link: ``{'type': ..., 'id': ...}`` (or None), kept in ``<f>_id``/``<f>_type``."""

    def get(self: Any) -> dict[str, Any] | None:
        link_id = getattr(self, id_attr)
        return None if link_id is None else {"type": getattr(self, type_attr), "id": link_id}

    def set_(self: Any, value: dict[str, Any] | None) -> None:
        if value is not None and not isinstance(value, dict):
            raise TypeError(f"an entity link is a dict {{'type': ..., 'id': ...}} or None, got {value!r:.80}")
        setattr(self, id_attr, None if value is None else value["id"])
        setattr(self, type_attr, None if value is None else value["type"])

    return property(get, set_, doc=doc)


def _sg_links(ids_attr: str, type_attr: str, doc: str | None) -> property:
    """The SG view of a multi-entity link: a list of ``{'type', 'id'}`` dicts, kept as comma-separated ids
    (``<f>_ids``) and aligned types (``<f>_type``), in SG's order; an empty list is NULL in both."""

    def get(self: Any) -> list[dict[str, Any]]:
        ids, types = getattr(self, ids_attr), getattr(self, type_attr)
        if not ids:
            return []
        return [{"type": t, "id": int(i)} for i, t in zip(ids.split(","), types.split(","), strict=True)]

    def set_(self: Any, value: list[dict[str, Any]] | None) -> None:
        if value is not None and not isinstance(value, list):
            raise TypeError(f"a multi-entity link is a list of {{'type', 'id'}} dicts, got {value!r:.80}")
        links = value or []
        if any("," in str(link["type"]) for link in links):
            raise ValueError(f"an entity type in {value!r:.80} contains a comma")
        setattr(self, ids_attr, ",".join(str(int(link["id"])) for link in links) or None)
        setattr(self, type_attr, ",".join(str(link["type"]) for link in links) or None)

    return property(get, set_, doc=doc)


# --- support: end


def support_source() -> str:
    """The code between the markers, for the standalone module."""
    from pathlib import Path

    text = Path(__file__).read_text(encoding="utf-8")
    begin, end = "# --- support: begin\n", "# --- support: end\n"
    return text[text.index(begin) + len(begin):text.index(end)].strip("\n") + "\n"
