"""shotgrid_orm's documented usage (its README, 0.3.4), run against sg2dbt as a user porting their code would:
only the import line changes. On SQLite and PostgreSQL.

Where sg2dbt deliberately differs (snake_case tables, ``_type`` beside every ``_id``, KeyError for an unknown
entity), the README's table says so; those lines are marked ``# differs:`` below.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import create_engine, insert, select
from sqlalchemy.orm import Session

from sg2dbt import SGORM, SchemaType
from sg2dbt.core.errors import ValueFitError


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """The warehouse, reached as the porting user reaches theirs: a plain URL, tables in the default schema
    (on PostgreSQL a fresh schema made the default through search_path, so the code itself is unchanged)."""
    if request.param == "sqlite":
        eng = create_engine(f"sqlite:///{tmp_path / 'shotgrid.db'}")
    else:
        pg = request.getfixturevalue("pg_engine")
        schema = request.getfixturevalue("pg_schema")
        eng = create_engine(pg.url, connect_args={"options": f"-csearch_path={schema}"})
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def schema_json(real_schema_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real schema plus a ``metadata`` field on Shot (SG sites have them; the README's pitfall 3)."""
    doc = json.loads(real_schema_path.read_text(encoding="utf-8"))
    doc["Shot"]["fields"]["metadata"] = {
        "data_type": {"value": "serializable"}, "name": {"value": "Metadata"}, "properties": {}}
    path = tmp_path_factory.mktemp("schema") / "schema.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.fixture
def mockgun(real_schema_pickles: tuple[Path, Path]) -> Any:
    from shotgun_api3.lib import mockgun

    mockgun.Shotgun.set_schema_paths(*(str(p) for p in real_schema_pickles))
    return mockgun.Shotgun("https://mystudio.shotgunstudio.com", "my_script", "abc123")


def test_schema_sources_give_the_same_classes(schema_json: Path, mockgun: Any) -> None:
    from_file = SGORM(sg_schema_type=SchemaType.JSON_FILE, sg_schema_source=str(schema_json), echo=False)
    from_text = SGORM(sg_schema_type=SchemaType.JSON_TEXT, sg_schema_source=schema_json.read_text(encoding="utf-8"))
    live = SGORM(sg_schema_type=SchemaType.SG_CONNECTION, sg_schema_source=mockgun)
    assert set(from_file.classes) == set(from_text.classes) == set(live.classes)
    assert len(from_file.classes) == 77
    assert live.sg is mockgun
    Shot = from_file["Shot"]
    assert Shot is from_file.classes["Shot"] and Shot.__name__ == "Shot"
    assert Shot.__tablename__ == "shot"                                     # differs: snake_case tables
    assert from_file.sg_schema["Shot"].fields["code"].data_type == "text"   # differs: the parsed model
    with pytest.raises(KeyError, match=r"'Shott'.*did you mean Shot"):       # differs: shotgrid_orm gives None
        from_file["Shott"]
    assert from_file.get("Shott") is None


def test_ignore_lists(schema_json: Path) -> None:
    sg_orm = SGORM(
        sg_schema_type=SchemaType.JSON_FILE,
        sg_schema_source=str(schema_json),
        ignored_tables=["AppWelcome", "Banner", "PageSetting"],  # the README's two are absent from this site
        ignored_fields=["image_source_entity", "sg_status_list"],
    )
    assert "PageSetting" not in sg_orm.classes and "Shot" in sg_orm.classes
    columns = set(sg_orm.tables["Shot"].columns.keys())
    assert "sg_status_list" not in columns and "code" in columns


def test_echo_prints_what_it_maps(schema_json: Path, capsys: pytest.CaptureFixture[str]) -> None:
    SGORM(SchemaType.JSON_FILE, str(schema_json), echo=True)
    assert "TABLE Shot" in capsys.readouterr().out
    SGORM(SchemaType.JSON_FILE, str(schema_json))
    assert capsys.readouterr().out == ""


def test_crud_with_explicit_ids(schema_json: Path, engine: sa.Engine) -> None:
    sg_orm = SGORM(sg_schema_type=SchemaType.JSON_FILE, sg_schema_source=str(schema_json), echo=False)
    sg_orm.Base.metadata.create_all(engine)
    Shot, Task = sg_orm["Shot"], sg_orm["Task"]
    session = Session(engine)

    shot = Shot()
    shot.id = 1234
    shot.code = "010"
    shot.description = "Opening shot"
    shot.project_id = 1
    shot.project_type = "Project"
    shot.sg_sequence_id = 10
    shot.sg_sequence_type = "Sequence"
    shot._metadata = {"custom": "data"}
    shot.assets_ids = "5,6"                    # multi-entity: {field}_ids and {field}_type, as the README says
    shot.assets_type = "Asset,Asset"
    session.add(shot)
    # find()'s own value shapes on the ORM: a date string, a link dict for the field itself
    session.add(Task(id=7, content="comp", due_date="2024-05-01", entity={"type": "Shot", "id": 1234}))
    session.commit()

    shot = session.execute(select(Shot).where(Shot.code == "010")).scalar_one()
    assert shot.id == 1234 and shot._metadata == {"custom": "data"} and shot.metadata_ == {"custom": "data"}
    assert shot.assets == [{"type": "Asset", "id": 5}, {"type": "Asset", "id": 6}]
    assert shot.project == {"type": "Project", "id": 1}
    task = session.get(Task, 7)
    assert task.due_date == dt.date(2024, 5, 1) and (task.entity_id, task.entity_type) == (1234, "Shot")
    with engine.connect() as conn:   # the column is the SG field's name
        raw = conn.execute(sa.text("select metadata, assets_ids, assets_type from shot")).one()
    assert (json.loads(raw[0]) if isinstance(raw[0], str) else raw[0]) == {"custom": "data"}
    assert tuple(raw[1:]) == ("5,6", "Asset,Asset")

    shot.description = "Updated description"
    session.commit()
    assert session.execute(select(Shot.description).where(Shot.id == 1234)).scalar_one() == "Updated description"
    session.delete(shot)
    session.commit()
    assert session.execute(select(sa.func.count()).select_from(Shot)).scalar_one() == 0
    session.close()


def test_in_memory_engine_and_session(schema_json: Path) -> None:
    sg_orm = SGORM(SchemaType.JSON_FILE, str(schema_json))
    Asset = sg_orm["Asset"]
    sg_orm.session.add(Asset(id=1, code="HERO_CHAR"))
    sg_orm.session.commit()
    assert sg_orm.engine.url.get_backend_name() == "sqlite"
    assert sg_orm.session.execute(select(Asset.code)).scalar_one() == "HERO_CHAR"


def test_create_script_then_import_sgmodel(schema_json: Path, engine: sa.Engine, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    sg_orm = SGORM(SchemaType.JSON_FILE, str(schema_json))
    monkeypatch.chdir(tmp_path)
    sg_orm.create_script("sgmodel.py")
    sg_orm.create_script(out_script="other.py")
    assert (tmp_path / "other.py").read_text(encoding="utf-8") == (tmp_path / "sgmodel.py").read_text(encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "sgmodel", raising=False)
    import sgmodel  # type: ignore[import-not-found]

    try:
        sgmodel.Base.metadata.create_all(engine)
        session = Session(engine)
        session.add(sgmodel.Asset(id=1, code="HERO_CHAR"))
        shot_class = sgmodel.CLASSES["Shot"]
        session.add(shot_class(id=100, code="010", _metadata=[1, 2], project={"type": "Project", "id": 3}))
        session.add(sgmodel.CLASSES["Task"](id=5, start_date="2024-02-29"))
        session.commit()
        assert set(sgmodel.CLASSES) == set(sg_orm.classes)
        assert all(isinstance(c, type) and issubclass(c, sgmodel.Base) for c in sgmodel.CLASSES.values())
        got = session.get(shot_class, 100)
        assert (got.code, got._metadata, got.project_id, got.project_type) == ("010", [1, 2], 3, "Project")
        assert session.get(sgmodel.CLASSES["Task"], 5).start_date == dt.date(2024, 2, 29)
        session.close()
    finally:
        sys.modules.pop("sgmodel", None)


def test_bulk_loop_with_to_row(mockgun: Any, engine: sa.Engine) -> None:
    """The README's "Bulk Data Transfer from Shotgrid", with the hand-built _id/_type lines replaced by
    ``to_row``/``from_sg``: every field find() returns arrives, converted as ``sg2dbt load`` converts it."""
    sg = mockgun
    project = sg.create("Project", {"name": "Demo"})
    seq = sg.create("Sequence", {"code": "SQ01", "project": project})
    assets = [sg.create("Asset", {"code": f"A{i}", "project": project}) for i in range(3)]
    for i in range(5):
        sg.create("Shot", {"code": f"{i:03d}", "description": None if i == 2 else f"shot {i}", "project": project,
                           "sg_sequence": seq if i % 2 else None, "assets": assets[: i % 4],
                           "sg_cut_in": 1001 + i})

    sg_orm = SGORM(sg_schema_type=SchemaType.SG_CONNECTION, sg_schema_source=sg)
    sg_orm.Base.metadata.create_all(engine)
    session = Session(engine)
    Shot = sg_orm["Shot"]
    fields = ["id", "code", "description", "project", "sg_sequence", "assets", "sg_cut_in"]
    shots_data = sg.find("Shot", [], fields)
    half = len(shots_data) // 2
    for shot_data in shots_data[:half]:      # one instance each, as the README's loop does
        session.add(sg_orm.from_sg("Shot", shot_data))
    session.execute(insert(Shot), [sg_orm.to_row("Shot", r) for r in shots_data[half:]])   # or in bulk
    session.commit()

    got = {s.id: s for s in session.execute(select(Shot)).scalars()}
    assert sorted(got) == sorted(r["id"] for r in shots_data)
    for r in shots_data:
        s = got[r["id"]]
        assert (s.code, s.description, s.sg_cut_in) == (r["code"], r["description"], r["sg_cut_in"])
        assert (s.project_id, s.project_type) == (project["id"], "Project")
        assert s.sg_sequence == ({"type": "Sequence", "id": seq["id"]} if r["sg_sequence"] else None)
        assert s.assets == [{"type": "Asset", "id": a["id"]} for a in r["assets"]]
        assert s._sg_retired is False and s._sg_loaded_at is not None
    session.close()


def test_to_row_is_the_loaders_conversion(schema_json: Path) -> None:
    """The same rules as `sg2dbt load`: a value that does not fit is refused by entity, id and field."""
    sg_orm = SGORM(SchemaType.JSON_FILE, str(schema_json))
    row = sg_orm.to_row("Task", {"type": "Task", "id": 3, "due_date": "2024-05-01",
                                 "updated_at": "2024-05-01 10:00:00+02:00", "entity": {"type": "Shot", "id": 9},
                                 "task_assignees": []})
    assert row["due_date"] == dt.date(2024, 5, 1)
    assert row["updated_at"] == dt.datetime(2024, 5, 1, 8, tzinfo=dt.timezone.utc)
    assert (row["entity_id"], row["entity_type"], row["task_assignees_ids"]) == (9, "Shot", None)
    assert sg_orm.to_row("Task", {"type": "Task", "id": 5, "duration": "12"})["duration"] == 12  # as sites send
    with pytest.raises(ValueFitError, match=r"entity 'Task', id 4, field 'duration'"):
        sg_orm.to_row("Task", {"type": "Task", "id": 4, "duration": "two days"})
    with pytest.raises(KeyError, match="did you mean Task"):
        sg_orm.to_row("Tasks", {"id": 1})
