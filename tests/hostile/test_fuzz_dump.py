"""Fuzz (hypothesis): dumps of valid records with random damage, in full, incremental and retired passes.

Each example writes a dump of Shot (text, number, datetime, link, multi-entity link, JSON and status fields)
and Asset, damages some Shot lines (a value of the wrong type, invalid UTF-8, a lone surrogate, deep nesting,
an id that is a string, a boolean, a float, past 64 bits or repeated, a datetime that is garbage, past year
9999 or at year 1, a cut line, a line that is not a record), and loads it through the CLI on DuckDB or
PostgreSQL, as a first (full) load, as an incremental one after a good load, or with the damage in the
retired file. Every run must end with exit status 0 or 2 and a JSON summary; on 2 the summary names the
failing record (entity, id or field, or the file and line), Asset still loads, and Shot's table is exactly
what it was before the run; on 0 every record of the dump is a row, undamaged ones as they were written.
Never a mixture. ``SG2DBT_FUZZ_EXAMPLES`` sets the number of examples (default 25 per database).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import PG_URL

pytestmark = pytest.mark.slow

Cli = Callable[..., tuple[int, str, str]]
EXAMPLES = int(os.environ.get("SG2DBT_FUZZ_EXAMPLES") or 25)
AT = "2024-05-01T12:00:00+00:00"


def _field(data_type: str, valid_types: list[str] | None = None) -> dict[str, Any]:
    props = {"valid_types": {"value": valid_types}} if valid_types else {}
    return {"data_type": {"value": data_type}, "properties": props}


SCHEMA = {
    "Shot": {"name": {"value": "Shot"}, "fields": {
        "id": _field("number"), "code": _field("text"), "updated_at": _field("date_time"),
        "sg_cut_in": _field("number"), "sg_sequence": _field("entity", ["Sequence"]),
        "assets": _field("multi_entity", ["Asset"]), "sg_data": _field("serializable"),
        "sg_status_list": _field("status_list")}},
    "Asset": {"name": {"value": "Asset"}, "fields": {
        "id": _field("number"), "code": _field("text"), "updated_at": _field("date_time")}},
}


def shot(rid: int, generation: int) -> dict[str, Any]:
    return {"type": "Shot", "id": rid, "code": f"shot {rid} gen {generation}",
            "updated_at": f"2024-05-0{1 + generation}T10:{rid % 60:02d}:00Z", "sg_cut_in": rid * 10,
            "sg_sequence": {"type": "Sequence", "id": rid % 3 + 1},
            "assets": [{"type": "Asset", "id": 1}, {"type": "Asset", "id": rid}],
            "sg_data": {"k": [rid, "v"]}, "sg_status_list": "ip"}


# Damage: (kind, how a record's JSON line becomes the damaged line). Some damage is harmless (a link given
# as a list is refused; a number given as "12" is coerced), so either outcome is allowed for each.
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.sampled_from(["\ud800", "nul\x00", "10000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "yesterday",
                     "2024-13-45T99:99:99Z", "9999-12-31T23:59:59Z", "12.5", "1e3", "0x10"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.sampled_from(["type", "id", "x"]), st.integers(),
                                                         max_size=2))
FIELDS = st.sampled_from(["id", "code", "updated_at", "sg_cut_in", "sg_sequence", "assets", "sg_data",
                          "sg_status_list"])


@st.composite
def damage(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(["value", "value", "value", "bytes", "nest", "cut", "not_a_record", "repeat"]))
    if kind == "value":
        return kind, (draw(FIELDS), draw(VALUES))
    if kind == "nest":
        return kind, draw(st.sampled_from([50, 5_000, 100_000]))
    if kind == "cut":
        return kind, draw(st.integers(min_value=1, max_value=40))
    if kind == "bytes":
        return kind, draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"]))
    return kind, None


def damaged_line(rec: dict[str, Any], how: tuple[str, Any]) -> bytes:
    kind, arg = how
    line = json.dumps(rec)
    if kind == "value":
        field, value = arg
        bad = dict(rec)
        bad[field] = value
        try:
            return json.dumps(bad).encode()   # lone surrogates are written as \\ud800 escapes: legal JSON
        except ValueError:   # NaN is written as NaN by json.dumps; nothing else fails
            return line.encode()
    if kind == "nest":
        return (line[:-1] + ', "sg_data": ' + "[" * arg + "]" * arg + "}").encode()
    if kind == "cut":
        return line[:arg].encode()
    if kind == "bytes":
        return line.encode().replace(b"shot", b"sh" + arg + b"ot", 1)
    if kind == "not_a_record":
        return b"[" + line.encode() + b"]"
    return line.encode()   # "repeat": written twice by the caller


class Warehouse:
    def __init__(self, kind: str, root: Path) -> None:
        self.kind = kind
        if kind == "duckdb":
            self.url, self.schema = f"duckdb:///{root / 'w.duckdb'}", "shotgrid_raw"
        else:
            self.url, self.schema = PG_URL, f"t_fuzz_{uuid.uuid4().hex[:10]}"

    def shot_rows(self) -> list[tuple[Any, ...]]:
        engine = sa.create_engine(self.url)
        try:
            if not sa.inspect(engine).has_table("shot", schema=self.schema):
                return []
            with engine.connect() as conn:
                cols = "id, code, updated_at, sg_cut_in, sg_sequence_id, assets_ids, _sg_retired"
                return [tuple(r) for r in conn.execute(sa.text(f'select {cols} from "{self.schema}".shot order by id'))]
        finally:
            engine.dispose()

    def drop(self) -> None:
        if self.kind == "postgresql":
            engine = sa.create_engine(self.url)
            with engine.begin() as conn:
                conn.execute(sa.text(f'drop schema if exists "{self.schema}" cascade'))
            engine.dispose()


def write_dump(directory: Path, live: list[bytes], retired: list[bytes]) -> None:
    directory.mkdir(exist_ok=True)
    (directory / "Shot.jsonl").write_bytes(b"".join(ln + b"\n" for ln in live))
    (directory / "Shot.retired.jsonl").write_bytes(b"".join(ln + b"\n" for ln in retired))
    (directory / "Asset.jsonl").write_text("".join(json.dumps({"type": "Asset", "id": i, "code": f"a{i}"}) + "\n"
                                                   for i in range(1, 6)), encoding="utf-8")
    (directory / "Asset.retired.jsonl").write_text("", encoding="utf-8")
    doc = {"format": "sg2dbt-dump/1", "started_at": AT, "entities": {
        "Shot": {"started_at": AT, "live": len(live), "retired": len(retired)},
        "Asset": {"started_at": AT, "live": 5, "retired": 0}}}
    (directory / "_manifest.json").write_text(json.dumps(doc), encoding="utf-8")


def _run(cli: Cli, schema: Path, wh: Warehouse, dump: Path) -> tuple[int, dict[str, Any], str]:
    code, out, err = cli("load", "--schema", str(schema), "--db", wh.url, "--raw-schema", wh.schema,
                         "--from-dump", str(dump), "--json", "--quiet")
    assert "Traceback" not in err
    assert code in (0, 2), err
    return code, json.loads(out), err


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def kind(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        request.getfixturevalue("pg_engine")   # skips without a server
    return str(request.param)


def test_damaged_dumps_fail_cleanly_or_load_whole(cli: Cli, kind: str,
                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    schema = tmp_path_factory.mktemp("fuzz") / "schema.json"
    schema.write_text(json.dumps(SCHEMA), encoding="utf-8")

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(mode=st.sampled_from(["full", "incremental", "retired"]),
           hurt=st.lists(st.tuples(st.integers(min_value=0, max_value=7), damage()), min_size=1, max_size=3))
    def example(mode: str, hurt: list[tuple[int, tuple[str, Any]]]) -> None:
        root = tmp_path_factory.mktemp("ex")
        wh = Warehouse(kind, root)
        dump = root / "dump"
        try:
            generation = 0
            if mode in ("incremental", "retired"):
                write_dump(dump, [json.dumps(shot(i, 0)).encode() for i in range(1, 9)], [])
                code, summary, err = _run(cli, schema, wh, dump)
                assert code == 0, err
                generation = 1
            records = [shot(i, generation) for i in range(1, 9)]
            lines = [json.dumps(r).encode() for r in records]
            damaged: set[int] = set()
            for index, how in hurt:
                lines[index] = damaged_line(records[index], how)
                damaged.add(index)
                if how[0] == "repeat":
                    lines.append(lines[index])
            live, retired = (lines[:4], lines[4:]) if mode == "retired" else (lines, [])
            before = wh.shot_rows()
            write_dump(dump, live, retired)
            code, summary, err = _run(cli, schema, wh, dump)
            event(f"{mode}: exit {code}")
            entities = {e["entity"]: e for e in summary["entities"]}
            assert entities["Asset"]["error"] is None and entities["Asset"]["rows_live"] == 5
            after = wh.shot_rows()
            if code == 2:
                error = entities["Shot"]["error"]
                assert error and ("entity 'Shot'" in error or "Shot." in error), error
                lines_err = [ln for ln in err.splitlines() if ln.strip()]
                assert len(lines_err) == 1 and lines_err[0].startswith("sg2dbt: error: 1 of 2 entities failed")
                assert after == before, "a failed load changed the table"
            else:
                assert entities["Shot"]["error"] is None
                ids = {r[0] for r in after}
                assert ids == {json.loads(ln)["id"] for ln in lines}, (ids, hurt)
                for i, rec in enumerate(records):
                    if i not in damaged:
                        row = next(r for r in after if r[0] == rec["id"])
                        assert row[1] == rec["code"] and row[3] == rec["sg_cut_in"]
                        assert row[6] is (mode == "retired" and i >= 4)
        finally:
            wh.drop()

    example()
