"""The staging plan (emit/project/staging.py): which models, columns, keys and tests the layout becomes."""

from __future__ import annotations

import pytest

from sg2dbt.core.errors import NamingError
from sg2dbt.core.layout import plan as plan_layout
from sg2dbt.core.model import Entity, Field, Schema
from sg2dbt.emit.project import ProjectOptions
from sg2dbt.emit.project.staging import plan
from sg2dbt.schema import sources
from tests.conftest import REPO

DEMO = sources.from_path(REPO / "examples" / "studio" / "schema.json")


def _schema(*entities: Entity) -> Schema:
    return Schema(entities={e.name: e for e in entities})


def _entity(name: str, *fields: Field, display: str | None = None) -> Entity:
    all_fields = {"id": Field(entity=name, name="id", data_type="number"), **{f.name: f for f in fields}}
    return Entity(name=name, display_name=display or name, fields=all_fields)


def test_every_entity_is_one_model_keyed_by_its_id_and_multi_entity_fields_are_bridges() -> None:
    p = plan(plan_layout(DEMO), ProjectOptions())
    assert {m.entity for m in p} == set(DEMO.entities)
    for m in p:
        assert m.name == f"stg_shotgrid__{m.table.name}"
        key = m.columns[0]
        assert key.name == m.key == f"{m.table.name}_id"
        multi = {n for n, f in m.table.entity.fields.items() if f.data_type == "multi_entity"}
        assert {b.raw_field.field.name for b in m.bridges} == multi
        assert not multi & {c.name for c in m.columns}


def test_polymorphic_links_get_a_typed_key_per_type_the_schema_holds() -> None:
    task = next(m for m in plan(plan_layout(DEMO), ProjectOptions()) if m.entity == "Task")
    names = {c.name for c in task.columns}
    valid = set(DEMO["Task"].fields["entity"].valid_types)
    assert {"entity_id", "entity_type"} <= names
    typed = {n for n in names if n.startswith("entity_") and n not in ("entity_id", "entity_type")}
    assert typed == {f"entity_{plan_layout(DEMO)[t].name}_id" for t in valid if t in DEMO.entities}


def test_a_single_type_link_keeps_only_its_id_with_a_relationship_test() -> None:
    shot = next(m for m in plan(plan_layout(DEMO), ProjectOptions()) if m.entity == "Shot")
    seq = next(c for c in shot.columns if c.name == "sg_sequence_id")
    assert "sg_sequence_type" not in {c.name for c in shot.columns}
    assert "ref('stg_shotgrid__sequence')" in str(seq.data_tests)


def test_a_derived_name_yields_to_a_raw_column_by_doubling_its_underscore() -> None:
    shot = _entity("Shot", Field(entity="Shot", name="shot_id", data_type="number"))
    model = plan(plan_layout(_schema(shot)), ProjectOptions()).models["Shot"]
    assert model.key == "shot__id" and {"shot_id", "shot__id"} <= {c.name for c in model.columns}


def test_a_derived_name_that_still_collides_is_refused_naming_the_entity() -> None:
    shot = _entity("Shot", Field(entity="Shot", name="shot_id", data_type="number"),
                   Field(entity="Shot", name="shot__id", data_type="number"))
    with pytest.raises(NamingError, match=r"'Shot'.*'shot_id'"):
        plan(plan_layout(_schema(shot)), ProjectOptions())


def test_display_names_name_the_models_when_asked() -> None:
    p = plan(plan_layout(DEMO), ProjectOptions(name_by_display=True))
    episode = p.models["CustomEntity01"]
    assert episode.name == "stg_shotgrid__episode" and episode.key == "episode_id"
