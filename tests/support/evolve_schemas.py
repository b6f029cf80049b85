"""Two versions of a small SG schema for the schema-evolution tests (issue 5).

v2 differs from v1 by exactly the changes a site sees every week: a new field (Shot.sg_shot_type), a new
custom entity (CustomEntity01, shown as "Episode", with a link from Shot), a removed field
(Shot.sg_old_notes), a changed type (Shot.sg_cut_in number -> float) and a new display name (Shot.code).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any


def _field(data_type: str, name: str = "", valid_types: list[str] | None = None,
           valid_values: list[str] | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if valid_types is not None:
        props["valid_types"] = {"value": valid_types}
    if valid_values is not None:
        props["valid_values"] = {"value": valid_values}
    return {"data_type": {"value": data_type}, "name": {"value": name}, "properties": props}


def v1() -> dict[str, Any]:
    return {
        "Project": {"name": {"value": "Project"}, "fields": {
            "id": _field("number", "Id"),
            "name": _field("text", "Project Name"),
            "updated_at": _field("date_time", "Date Updated"),
        }},
        "Shot": {"name": {"value": "Shot"}, "fields": {
            "id": _field("number", "Id"),
            "code": _field("text", "Shot Name"),
            "sg_status_list": _field("status_list", "Status", valid_values=["wtg", "ip", "fin"]),
            "sg_cut_in": _field("number", "Cut In"),
            "sg_old_notes": _field("text", "Old Notes"),
            "project": _field("entity", "Project", valid_types=["Project"]),
            "updated_at": _field("date_time", "Date Updated"),
        }},
    }


def v2() -> dict[str, Any]:
    doc = v1()
    shot = doc["Shot"]["fields"]
    shot["code"] = _field("text", "Shot Code")
    shot["sg_cut_in"] = _field("float", "Cut In")
    del shot["sg_old_notes"]
    shot["sg_shot_type"] = _field("list", "Type", valid_values=["vfx", "cg"])
    shot["sg_episode"] = _field("entity", "Episode", valid_types=["CustomEntity01"])
    doc["CustomEntity01"] = {"name": {"value": "Episode"}, "fields": {
        "id": _field("number", "Id"),
        "code": _field("text", "Episode Name"),
        "project": _field("entity", "Project", valid_types=["Project"]),
        "updated_at": _field("date_time", "Date Updated"),
    }}
    return copy.deepcopy(doc)


def write(directory: Path) -> tuple[Path, Path]:
    """Both versions as seed-shaped JSON files, the way `sg2dbt schema dump` writes them."""
    paths = directory / "schema_v1.json", directory / "schema_v2.json"
    for path, doc in zip(paths, (v1(), v2()), strict=True):
        path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return paths
