"""The demo studio in examples/: its schema reads and lays out, its generator is deterministic and
writes find()-shaped records that match the schema, and the example marts are what the demo copies."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sg2dbt.core.errors import SchemaError
from sg2dbt.core.layout import plan
from sg2dbt.core.typemap import Shape, resolve
from sg2dbt.demo import paths
from sg2dbt.demo.generate import generate, write_dump
from sg2dbt.schema import sources
from tests.conftest import REPO

EXAMPLES = REPO / "examples"


@pytest.fixture(scope="module")
def schema():
    return sources.from_path(EXAMPLES / "studio" / "schema.json")


@pytest.fixture(scope="module")
def dump(schema):
    return generate(schema)


@pytest.fixture(scope="module")
def records(dump):
    return dump.live


def test_the_demo_reads_the_studio_from_the_checkout():
    # An editable install runs from the checkout; a wheel carries the same files as package data.
    assert paths.schema_path().resolve() == (EXAMPLES / "studio" / "schema.json").resolve()
    assert sorted(p.name for p in paths.marts_dir().iterdir()) == sorted(
        p.name for p in (EXAMPLES / "studio" / "marts").iterdir())


def test_a_wheel_carries_the_studio_where_the_demo_looks():
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    force = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    packaged = paths.PACKAGED.relative_to(REPO).as_posix()
    assert force["examples/studio"] == packaged
    assert paths.CHECKOUT == EXAMPLES / "studio"


def test_studio_schema_has_what_the_demo_promises(schema):
    assert {"Project", "Sequence", "Shot", "Asset", "Task", "Version", "HumanUser", "Note", "TimeLog",
            "Step", "CustomEntity01"} <= set(schema.entities)
    assert schema["CustomEntity01"].display_name == "Episode"
    assert set(schema["Task"].fields["entity"].valid_types) == {"Shot", "Asset", "Sequence"}
    assert resolve(schema["Note"].fields["note_links"]).shape is Shape.MULTI_ENTITY
    assert len(schema["Note"].fields["note_links"].valid_types) >= 3
    assert "fin" in schema["Shot"].fields["sg_status_list"].valid_values
    # The docs test looks for this description in dbt's catalog; keep it in the schema.
    assert schema["Task"].fields["est_in_mins"].description
    layout = plan(schema)
    assert layout["CustomEntity01"].name == "custom_entity01"
    assert layout["Task"].column("entity_type").field.name == "entity"


def test_records_are_find_shaped_and_match_the_schema(schema, dump, records):
    assert 3000 <= sum(len(rows) for rows in records.values()) <= 20000
    for entity in schema:
        rows = records[entity.name]
        assert rows, entity.name
        # Ids are unique across live and retired records and leave no gap, as on a fresh site.
        ids = sorted(r["id"] for r in rows + dump.retired[entity.name])
        assert ids == list(range(1, len(ids) + 1))
        for row in rows + dump.retired[entity.name]:
            assert set(row) == {"type", *entity.fields}, entity.name
    assert dump.retired["Shot"] and dump.retired["TimeLog"]
    shot = records["Shot"][0]
    assert set(shot["sg_sequence"]) == {"type", "id", "name"} and shot["sg_sequence"]["type"] == "Sequence"
    assert dt.datetime.fromisoformat(shot["updated_at"]).tzinfo is not None
    assert dt.datetime.fromisoformat(shot["updated_at"]) >= dt.datetime.fromisoformat(shot["created_at"])
    dt.date.fromisoformat(shot["sg_due_date"])
    assert {t["entity"]["type"] for t in records["Task"]} == {"Shot", "Asset"}
    assert any(len(n["note_links"]) > 1 for n in records["Note"])
    assert set(records["Project"][0]["billboard"]) == {"url", "name", "link_type", "content_type"}


def test_records_are_consistent_with_each_other(records):
    # Live records link only to live records (SG unlinks retired ones), and SG's own summary field
    # Task.time_logs_sum is the sum of the task's live time logs.
    ids = {entity: {r["id"] for r in rows} for entity, rows in records.items()}
    for entity, rows in records.items():
        for row in rows:
            for value in row.values():
                links = value if isinstance(value, list) else [value]
                for link in links:
                    if isinstance(link, dict) and "type" in link and "id" in link:
                        assert link["id"] in ids[link["type"]], (entity, row["id"], link)
    logged: dict[int, int] = {}
    for log in records["TimeLog"]:
        logged[log["entity"]["id"]] = logged.get(log["entity"]["id"], 0) + log["duration"]
    for task in records["Task"]:
        assert task["time_logs_sum"] == logged.get(task["id"], 0)


def test_generator_is_deterministic(tmp_path: Path, dump):
    # Two runs of the script as a user runs it: byte-identical files.
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        subprocess.run([sys.executable, str(EXAMPLES / "generate_dump.py"), "--out", str(out)], check=True,
                       capture_output=True)
    files = sorted(p.name for p in outs[0].iterdir())
    assert files == sorted(p.name for p in outs[1].iterdir())
    assert {"Shot.jsonl", "Shot.retired.jsonl", "TimeLog.retired.jsonl"} <= set(files)
    assert len((outs[0] / "Shot.retired.jsonl").read_text(encoding="utf-8").splitlines()) == len(dump.retired["Shot"])
    for name in files:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    first = json.loads((outs[0] / "Shot.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["type"] == "Shot"


def test_another_seed_gives_another_studio(schema, records, tmp_path: Path):
    other = generate(schema, seed=7)
    assert [r["sg_status_list"] for r in other.live["Shot"]] != [r["sg_status_list"] for r in records["Shot"]]
    counts = write_dump(other, tmp_path)
    assert counts == {e: len(rows) + len(other.retired[e]) for e, rows in other.live.items()}


def test_a_schema_without_a_field_the_studio_sets_is_refused(schema):
    smaller = schema.filtered(ignore_fields=["Shot.sg_cut_in"])
    with pytest.raises(SchemaError, match="sg_cut_in"):
        generate(smaller)
