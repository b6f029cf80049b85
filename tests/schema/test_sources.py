"""Schema loading from every source the spec names, and one clear error for each kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sg2dbt import SGORM, SchemaType
from sg2dbt.core.errors import SchemaError
from sg2dbt.core.model import Schema
from sg2dbt.schema import sources


def _spec(data_type: str, name: str = "", **props: Any) -> dict[str, Any]:
    """A field spec as schema_field_read() returns it."""
    return {
        "data_type": {"value": data_type, "editable": False},
        "name": {"value": name, "editable": True},
        "description": {"value": "", "editable": True},
        "mandatory": {"value": False, "editable": False},
        "unique": {"value": False, "editable": False},
        "properties": {k: {"value": v, "editable": True} for k, v in props.items()},
    }


RAW = {
    "Shot": {
        "id": _spec("number", "Id"),
        "code": _spec("text", "Shot Code"),
        "project": _spec("entity", "Project", valid_types=["Project"]),
        "assets": _spec("multi_entity", "Assets", valid_types=["Asset"]),
    },
    "Project": {"id": _spec("number", "Id"), "name": _spec("text", "Name")},
}
ENTITY_DOC = {"Shot": {"name": {"value": "Plan", "editable": False}},
              "Project": {"name": {"value": "Projet", "editable": False}}}
SEED = {name: {"name": {"value": f"{name} (display)"}, "fields": fields} for name, fields in RAW.items()}


def _write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _assert_small_schema(schema: Schema) -> None:
    assert sorted(schema.entities) == ["Project", "Shot"]
    shot = schema["Shot"]
    assert next(iter(shot.fields)) == "id"
    assert shot.fields["code"].display_name == "Shot Code"
    assert shot.fields["project"].data_type == "entity"
    assert shot.fields["project"].valid_types == ("Project",)
    assert shot.fields["assets"].valid_types == ("Asset",)


# --- every source -----------------------------------------------------------------------------------------

def test_seed_json_file(tmp_path: Path) -> None:
    schema = sources.from_json_file(_write(tmp_path / "seed.json", SEED))
    _assert_small_schema(schema)
    assert schema["Shot"].display_name == "Shot (display)"
    assert schema.source.endswith("seed.json")


def test_raw_schema_read_file_without_entity_file(tmp_path: Path) -> None:
    schema = sources.from_json_file(_write(tmp_path / "raw.json", RAW))
    _assert_small_schema(schema)
    assert schema["Shot"].display_name == "Shot"  # no display names without schema_entity_read()


def test_raw_schema_read_file_with_entity_file(tmp_path: Path) -> None:
    schema = sources.from_json_file(_write(tmp_path / "raw.json", RAW),
                                    _write(tmp_path / "entities.json", ENTITY_DOC))
    _assert_small_schema(schema)
    assert schema["Shot"].display_name == "Plan"
    assert schema["Project"].display_name == "Projet"


def test_from_path_dispatches_json_and_entity_file(tmp_path: Path) -> None:
    schema = sources.from_path(_write(tmp_path / "raw.json", RAW), _write(tmp_path / "e.json", ENTITY_DOC))
    assert schema["Shot"].display_name == "Plan"


def test_json_text() -> None:
    _assert_small_schema(sources.from_json_text(json.dumps(SEED)))
    _assert_small_schema(sources.from_json_text(json.dumps(RAW)))


def test_real_schema_seed_json(real_schema_path: Path) -> None:
    schema = sources.from_json_file(real_schema_path)
    assert len(schema) == 77
    assert sum(len(e.fields) for e in schema) == 1035
    assert schema["Shot"].display_name == "Shot"
    assert schema["HumanUser"].fields["login"].data_type == "text"


def test_mockgun_pickles_match_the_json(real_schema_path: Path,
                                        real_schema_pickles: tuple[Path, Path]) -> None:
    from_pickles = sources.from_mockgun_pickles(*real_schema_pickles)
    from_json = sources.from_json_file(real_schema_path)
    assert sorted(from_pickles.entities) == sorted(from_json.entities)
    for entity in from_json:
        assert from_pickles[entity.name].fields == entity.fields, entity.name
    # from_path finds the entity pickle beside the schema pickle
    assert sorted(sources.from_path(real_schema_pickles[0]).entities) == sorted(from_json.entities)


@pytest.fixture
def mockgun_site(real_schema_pickles: tuple[Path, Path]) -> Any:
    from shotgun_api3.lib import mockgun

    mockgun.Shotgun.set_schema_paths(str(real_schema_pickles[0]), str(real_schema_pickles[1]))
    return mockgun.Shotgun("https://mock.shotgunstudio.com", script_name="sg2dbt", api_key="secret")


class _CountingSite:
    """Wraps a connection and counts every schema call, to prove the loader makes two, not one per entity."""

    def __init__(self, sg: Any) -> None:
        self._sg = sg
        self.calls: list[str] = []
        self.base_url = sg.base_url

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._sg, name)
        if name.startswith("schema_"):
            def counted(*args: Any, **kwargs: Any) -> Any:
                self.calls.append(name)
                return attr(*args, **kwargs)
            return counted
        return attr


def test_existing_connection_uses_two_schema_calls(mockgun_site: Any, real_schema_path: Path) -> None:
    site = _CountingSite(mockgun_site)
    schema = sources.from_connection(site)
    assert sorted(site.calls) == ["schema_entity_read", "schema_read"]
    assert len(schema) == 77
    assert schema.source == "https://mock.shotgunstudio.com"
    assert schema["Shot"].fields == sources.from_json_file(real_schema_path)["Shot"].fields


def test_sgorm_with_existing_connection(mockgun_site: Any) -> None:
    orm = SGORM(sg_schema_type=SchemaType.SG_CONNECTION, sg_schema_source=mockgun_site)
    assert len(orm.classes) == 77
    assert orm.sg is mockgun_site


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [
        (SchemaType.SG_SCRIPT,
         {"url": "https://site.example", "script_name": "etl", "api_key": "k3y"},
         {"script_name": "etl", "api_key": "k3y"}),
        (SchemaType.SG_USER,
         {"url": "https://site.example", "login": "jane", "password": "pw"},
         {"login": "jane", "password": "pw"}),
    ],
    ids=["SG_SCRIPT", "SG_USER"],
)
def test_credentials_reach_the_connection(monkeypatch: pytest.MonkeyPatch,
                                          real_schema_pickles: tuple[Path, Path],
                                          kind: SchemaType, params: dict[str, str],
                                          expected: dict[str, str]) -> None:
    import shotgun_api3
    from shotgun_api3.lib import mockgun

    mockgun.Shotgun.set_schema_paths(str(real_schema_pickles[0]), str(real_schema_pickles[1]))
    seen: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def fake_shotgun(*args: Any, **kwargs: Any) -> Any:
        seen.append((args, kwargs))
        return mockgun.Shotgun(*args, **kwargs)

    monkeypatch.setattr(shotgun_api3, "Shotgun", fake_shotgun)
    orm = SGORM(sg_schema_type=kind, sg_schema_source=params)
    assert len(orm.classes) == 77
    assert len(seen) == 1
    args, kwargs = seen[0]
    assert args == ("https://site.example",)
    assert {k: kwargs[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        (SchemaType.SG_SCRIPT, {"url": "https://site.example", "script_name": "etl"}, "api_key"),
        (SchemaType.SG_USER, {"url": "https://site.example", "login": "jane"}, "password"),
        (SchemaType.SG_SCRIPT, {"script_name": "etl", "api_key": "k3y"}, "url"),
        (SchemaType.SG_SCRIPT, "https://site.example", "dict"),
    ],
    ids=["script-without-key", "user-without-password", "no-url", "not-a-dict"],
)
def test_incomplete_credentials_are_one_clear_error(kind: SchemaType, params: Any, message: str) -> None:
    with pytest.raises(SchemaError, match=message) as info:
        SGORM(sg_schema_type=kind, sg_schema_source=params)
    assert "k3y" not in str(info.value)


# --- tolerated quirks -------------------------------------------------------------------------------------

def test_missing_optional_keys_are_tolerated(tmp_path: Path) -> None:
    doc = {"Shot": {"id": {"data_type": {"value": "number"}}, "code": {"data_type": "text"}}}
    shot = sources.from_json_file(_write(tmp_path / "old.json", doc))["Shot"]
    assert shot.fields["code"].data_type == "text"
    assert shot.fields["code"].display_name == ""
    assert shot.fields["code"].valid_types == ()
    assert not shot.fields["code"].mandatory


def test_raw_field_named_fields_is_not_mistaken_for_the_seed_shape() -> None:
    doc = {"Shot": {"id": _spec("number"), "fields": _spec("text", "Fields")}}
    shot = sources.from_json_text(json.dumps(doc))["Shot"]
    assert shot.fields["fields"].data_type == "text"
    seed = {"Shot": {"name": {"value": "Shot"}, "fields": {"id": _spec("number"), "fields": _spec("text")}}}
    assert sorted(sources.from_json_text(json.dumps(seed))["Shot"].fields) == ["fields", "id"]


def test_missing_id_field_is_added() -> None:
    shot = sources.from_json_text(json.dumps({"Shot": {"code": _spec("text")}}))["Shot"]
    assert list(shot.fields) == ["id", "code"]


def test_empty_and_absent_valid_types_are_tolerated() -> None:
    doc = {"Shot": {"id": _spec("number"),
                    "nothing": _spec("entity", valid_types=[]),
                    "banner": _spec("multi_entity", valid_types=["Banner", "AppWelcome"])}}
    shot = sources.from_json_text(json.dumps(doc))["Shot"]
    assert shot.fields["nothing"].valid_types == ()
    assert shot.fields["banner"].valid_types == ("Banner", "AppWelcome")


# --- errors -----------------------------------------------------------------------------------------------

def test_missing_file_is_an_error_never_an_empty_schema(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(SchemaError, match="not found") as info:
        sources.from_json_file(missing)
    assert str(missing) in str(info.value)
    with pytest.raises(SchemaError, match="not found"):
        sources.from_path(tmp_path / "nope.pickle")
    with pytest.raises(SchemaError, match="not found"):
        SGORM(sg_schema_type=SchemaType.JSON_FILE, sg_schema_source=missing)


def test_missing_entity_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="not found") as info:
        sources.from_json_file(_write(tmp_path / "raw.json", RAW), tmp_path / "entities.json")
    assert "entities.json" in str(info.value)


def test_invalid_json_names_file_and_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"Shot": {"id": \n', encoding="utf-8")
    with pytest.raises(SchemaError, match=r"invalid JSON at line 2") as info:
        sources.from_json_file(path)
    assert str(path) in str(info.value)
    with pytest.raises(SchemaError, match="<json text>: invalid JSON"):
        sources.from_json_text("{")


def test_empty_schema_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="no entities"):
        sources.from_json_file(_write(tmp_path / "empty.json", {}))


@pytest.mark.parametrize(
    ("doc", "entity", "field", "message"),
    [
        ([1, 2], None, None, "top level must be an object"),
        ("Shot", None, None, "top level must be an object"),
        ({"Shot": [1]}, "Shot", None, "entity must be an object"),
        ({"Shot": {"fields": {"id": _spec("number")}}, "Asset": {"name": {"value": "A"}}}, "Asset", None,
         "no 'fields'"),
        ({"Shot": {"fields": ["id"]}, "Asset": {"fields": {}}}, "Shot", None, "'fields' must be an object"),
        ({"Shot": {"code": "text"}}, "Shot", "code", "field spec must be an object"),
        ({"Shot": {"code": {"name": {"value": "Code"}}}}, "Shot", "code", "no data_type"),
        ({"Shot": {"code": {"data_type": {"value": ""}}}}, "Shot", "code", "no data_type"),
        ({"Shot": {"project": _spec("entity", valid_types="Project")}}, "Shot", "project", "valid_types"),
        ({"Shot": {"project": _spec("entity", valid_types=[1, 2])}}, "Shot", "project", "valid_types"),
        ({"Shot": {"code": {"data_type": {"value": "text"}, "properties": [1]}}}, "Shot", "code",
         "properties"),
    ],
    ids=["list", "string", "entity-not-object", "seed-entity-without-fields", "fields-not-object",
         "spec-not-object", "no-data-type", "empty-data-type", "valid-types-string", "valid-types-ints",
         "properties-not-object"],
)
def test_structural_errors_name_file_entity_and_field(tmp_path: Path, doc: Any, entity: str | None,
                                                      field: str | None, message: str) -> None:
    path = _write(tmp_path / "bad.json", doc)
    with pytest.raises(SchemaError, match=message) as info:
        sources.from_json_file(path)
    err = info.value
    assert str(path) in str(err)
    assert err.source == str(path)
    assert err.entity == entity
    assert err.field == field
    if entity is not None:
        assert repr(entity) in str(err)
    if field is not None:
        assert repr(field) in str(err)


def test_entity_document_of_wrong_shape(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="entity document"):
        sources.from_json_file(_write(tmp_path / "raw.json", RAW), _write(tmp_path / "e.json", ["Shot"]))


def test_not_a_pickle(tmp_path: Path) -> None:
    schema, entities = tmp_path / "s.pickle", tmp_path / "s_entity.pickle"
    schema.write_bytes(b"not a pickle")
    entities.write_bytes(b"nor this")
    with pytest.raises(SchemaError, match="not a Mockgun schema pickle") as info:
        sources.from_path(schema)
    assert str(schema) in str(info.value)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"Sh\xf6t": {}}'.encode("latin-1"))
    with pytest.raises(SchemaError, match="not UTF-8") as info:
        sources.from_json_file(path)
    assert str(path) in str(info.value)
