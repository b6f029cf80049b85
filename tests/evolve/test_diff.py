"""`sg2dbt diff`: entity and field changes between two schemas, and what they do to the raw tables."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from click.testing import CliRunner

from sg2dbt.cli import cli
from sg2dbt.core.layout import plan
from sg2dbt.evolve.diff import Kind, diff
from sg2dbt.schema import sources
from tests.support.evolve_schemas import v1, v2, write


@pytest.fixture(scope="module")
def result():
    return diff(sources.from_dict(v1(), source="v1"), sources.from_dict(v2(), source="v2"))


def _field_change(result, entity, field):
    return next(c for c in result.fields if (c.entity, c.field) == (entity, field))


def test_new_entity_is_reported_with_its_table_and_columns(result):
    (episode,) = result.entities
    assert (episode.entity, episode.kind, episode.display_name) == ("CustomEntity01", Kind.ADDED, "Episode")
    table = plan(sources.from_dict(v2()))["CustomEntity01"]
    assert episode.table == table.name
    assert [c.column for c in episode.columns] == [c.name for c in table.columns]
    assert all(c.kind is Kind.ADDED for c in episode.columns)


def test_new_field_adds_the_columns_the_layout_gives_it(result):
    change = _field_change(result, "Shot", "sg_episode")
    assert change.kind is Kind.ADDED and change.data_type == "entity"
    rf = plan(sources.from_dict(v2()))["Shot"].fields["sg_episode"]
    assert {(c.column, c.kind) for c in change.columns} == {(c.name, Kind.ADDED) for c in rf.columns}


def test_removed_field_removes_its_column(result):
    change = _field_change(result, "Shot", "sg_old_notes")
    assert change.kind is Kind.REMOVED
    assert [(c.column, c.kind, c.old_type) for c in change.columns] == [("sg_old_notes", Kind.REMOVED, "text")]


def test_type_change_retypes_the_column(result):
    change = _field_change(result, "Shot", "sg_cut_in")
    assert [(p.name, p.old, p.new) for p in change.properties] == [("data_type", "number", "float")]
    assert [(c.column, c.old_type, c.new_type) for c in change.columns] == [("sg_cut_in", "bigint", "double")]
    assert change.columns[0].destructive


def test_display_name_change_touches_no_column(result):
    change = _field_change(result, "Shot", "code")
    assert [(p.name, p.old, p.new) for p in change.properties] == [("display_name", "Shot Name", "Shot Code")]
    assert change.columns == ()


def test_nothing_else_is_reported(result):
    assert {(c.entity, c.field) for c in result.fields} == {
        ("Shot", "code"), ("Shot", "sg_cut_in"), ("Shot", "sg_old_notes"), ("Shot", "sg_shot_type"),
        ("Shot", "sg_episode")}
    assert {(c.column, c.kind) for c in result.destructive} == {
        ("sg_old_notes", Kind.REMOVED), ("sg_cut_in", Kind.CHANGED)}


def test_valid_types_and_description_changes():
    old = v1()
    new = v1()
    new["Shot"]["fields"]["project"]["properties"]["valid_types"] = {"value": ["Project", "Asset"]}
    new["Shot"]["fields"]["code"]["description"] = {"value": "The shot's code"}
    result = diff(sources.from_dict(old), sources.from_dict(new))
    assert [(c.field, [(p.name, p.old, p.new) for p in c.properties], c.columns) for c in result.fields] == [
        ("code", [("description", "", "The shot's code")], ()),
        ("project", [("valid_types", ("Project",), ("Project", "Asset"))], ()),
    ]


def test_rename_shows_as_removal_plus_addition():
    new = v1()
    new["Shot"]["fields"]["sg_cut_first"] = new["Shot"]["fields"].pop("sg_cut_in")
    result = diff(sources.from_dict(v1()), sources.from_dict(new))
    assert {(c.field, c.kind) for c in result.fields} == {("sg_cut_in", Kind.REMOVED),
                                                          ("sg_cut_first", Kind.ADDED)}


def test_column_taken_over_by_a_new_field_is_reported_for_both_fields():
    # A new field `project_id` takes the column name of link `project`'s id: the layout moves the link.
    new = v1()
    new["Shot"]["fields"]["project_id"] = {"data_type": {"value": "number"}}
    result = diff(sources.from_dict(v1()), sources.from_dict(new))
    layout = plan(sources.from_dict(new))["Shot"]
    moved = layout.fields["project"].columns[0].name
    assert moved != "project_id"
    link = _field_change(result, "Shot", "project")
    assert {(c.column, c.kind) for c in link.columns} == {(moved, Kind.ADDED), ("project_id", Kind.CHANGED)}
    taken = next(c for c in link.columns if c.column == "project_id")
    assert (taken.old_field, taken.new_field, taken.destructive) == ("project", "project_id", False)
    assert "now holds field 'project_id'" in taken.describe()


def test_same_schema_has_no_diff(real_schema_path):
    schema = sources.from_path(real_schema_path)
    result = diff(schema, schema)
    assert not result and result.describe() == [] and result.columns == ()


def test_real_schema_minus_an_entity_and_a_field(real_schema_path):
    full = sources.from_path(real_schema_path)
    smaller = full.filtered(ignore=["Shot"], ignore_fields=["Asset.sg_status_list"])
    result = diff(smaller, full)
    assert [(c.entity, c.kind) for c in result.entities] == [("Shot", Kind.ADDED)]
    assert [(c.entity, c.field, c.kind) for c in result.fields] == [("Asset", "sg_status_list", Kind.ADDED)]


def test_cli_words_and_json(tmp_path: Path):
    old, new = write(tmp_path)
    runner = CliRunner()
    words = runner.invoke(cli, ["diff", str(old), str(new)])
    assert words.exit_code == 0, words.output
    lines = words.stdout.splitlines()
    assert lines[0].startswith("+ entity CustomEntity01 ('Episode'): new table custom_entity01")
    assert "- field Shot.sg_old_notes: removed (text) [column shot.sg_old_notes text removed]" in lines
    assert ("~ field Shot.sg_cut_in: data type 'number' -> 'float' "
            "[column shot.sg_cut_in retyped bigint -> double]") in lines
    assert "2 raw-column change(s) are destructive" in words.stderr

    as_json = runner.invoke(cli, ["diff", str(old), str(new), "--json"])
    doc = json.loads(as_json.stdout)
    assert doc["summary"]["entities"] == {"added": 1, "removed": 0, "changed": 0}
    assert doc["summary"]["fields"] == {"added": 2, "removed": 1, "changed": 2}
    assert doc["summary"]["destructive_columns"] == 2
    cut_in = next(f for f in doc["fields"] if f["field"] == "sg_cut_in")
    assert cut_in["columns"][0]["change"] == "changed" and cut_in["columns"][0]["new_type"] == "double"

    assert runner.invoke(cli, ["diff", str(old), str(new), "--exit-code"]).exit_code == 1
    same = runner.invoke(cli, ["diff", str(old), str(old), "--exit-code"])
    assert same.exit_code == 0 and "no changes" in same.stdout


def test_cli_live_site_as_new(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Without NEW, the live site is read (schema_read + schema_entity_read); Mockgun stands in for it."""
    from shotgun_api3.lib import mockgun

    doc = v2()
    doc["EventLogEntry"] = {"name": {"value": "Event Log Entry"}, "fields": {    # Mockgun writes one at start
        name: {"data_type": {"value": t}, "properties": {"default_value": {"value": None}}}
        for name, t in (("id", "number"), ("event_type", "text"), ("description", "text"))}}
    schema_pickle, entity_pickle = tmp_path / "site.pickle", tmp_path / "site_entity.pickle"
    schema_pickle.write_bytes(pickle.dumps({e: spec["fields"] for e, spec in doc.items()}))
    entity_pickle.write_bytes(pickle.dumps({e: {"name": spec["name"]} for e, spec in doc.items()}))
    mockgun.Shotgun.set_schema_paths(str(schema_pickle), str(entity_pickle))
    monkeypatch.setattr("sg2dbt.schema.connect.connect",
                        lambda creds: mockgun.Shotgun(creds.url, creds.script, creds.api_key))
    for name, value in {"SG_URL": "https://studio.example.com", "SG_SCRIPT": "sg2dbt",
                        "SG_API_KEY": "not-a-real-key"}.items():
        monkeypatch.setenv(name, value)
    old, _ = write(tmp_path)
    out = CliRunner().invoke(cli, ["diff", str(old), "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert result["new"] == "https://studio.example.com (script 'sg2dbt')"
    assert [(e["entity"], e["change"]) for e in result["entities"]] == [
        ("CustomEntity01", "added"), ("EventLogEntry", "added")]
    assert result["summary"]["fields"] == {"added": 2, "removed": 1, "changed": 2}
    assert "not-a-real-key" not in out.output
