"""The standalone module emitter: ``Base``, one class per entity and ``CLASSES``, needing only SQLAlchemy.

Every piece of SG text (names, descriptions) reaches the module through ``repr()``, so whatever it holds
(quotes, backslashes, newlines, braces) it stays a string literal and never becomes code. Identifiers
come from :mod:`sg2dbt.core.naming`, which only ever yields ``[A-Za-z0-9_]`` names that are not keywords.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from sg2dbt.core.layout import RawLayout, Role
from sg2dbt.core.output import write_text
from sg2dbt.core.typemap import STORAGE, Shape
from sg2dbt.emit.ormsupport import support_source


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sg2dbt", "templates"),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["pyrepr"] = repr
    # Inside the module docstring a repr could still close the triple quotes; keep it to safe characters.
    env.filters["pyrepr_comment"] = lambda s: "".join(ch if ch.isalnum() or ch in "/._- " else "?" for ch in s)
    return env


def _context(layout: RawLayout) -> dict[str, Any]:
    tables = []
    for t in layout:
        cols = []
        for c in t.columns:
            code = STORAGE[c.logical]
            cols.append({"name": c.name, "attr": c.attr, "annotation": code.annotation, "type": code.sa_code,
                         "pk": c.role is Role.ID, "doc": c.doc, "quote": c.quoted})
        doc = t.entity.display_name
        omitted = [f.name for f in t.omitted]
        if omitted:
            doc += f" (no column for {', '.join(omitted)}: pivot columns cannot be read through the API)"
        links = [{"attr": attr, "multi": rf.shape is Shape.MULTI_ENTITY,
                  "ids": rf.column(Role.LINK_IDS if rf.shape is Shape.MULTI_ENTITY else Role.LINK_ID).attr,
                  "type": rf.column(Role.LINK_TYPE).attr,
                  "doc": rf.field.description or rf.field.display_name or None}
                 for attr, rf in t.link_attributes.items()]
        tables.append({"class_name": t.class_name, "name": t.name, "entity": t.entity.name, "doc": doc,
                       "quote": t.quoted, "columns": cols, "aliases": t.aliases, "links": links})
    return {"tables": tables, "source": os.path.basename(layout.schema.source), "support": support_source()}


def render_script(layout: RawLayout) -> str:
    return _env().get_template("sgmodel.py.j2").render(**_context(layout))


def write_script(layout: RawLayout, path: str | os.PathLike[str]) -> Path:
    return write_text(path, render_script(layout))
