"""``sg2dbt demo`` end to end, as a user runs it: one process, one dbt build, a report whose numbers are the
dump's numbers; then ``dbt docs generate`` on the project it left behind shows SG's descriptions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pytest

from sg2dbt.core.layout import plan
from sg2dbt.demo import paths
from sg2dbt.demo.generate import StudioDump, generate
from sg2dbt.schema import sources

pytestmark = pytest.mark.slow

SG2DBT = Path(sys.executable).with_name("sg2dbt")


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SG2DBT_", "DBT_"))}
    env["COLUMNS"] = "200"  # rich wraps tables to the terminal width; a pipe has none
    return subprocess.run([str(SG2DBT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def studio_dump() -> StudioDump:
    """The records the demo loads, computed independently of the demo run."""
    return generate(sources.from_path(paths.schema_path()))


@pytest.fixture(scope="module")
def dump(studio_dump: StudioDump) -> dict[str, list[dict]]:
    """Live records: what the staging views and marts show."""
    return studio_dump.live


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    cwd = tmp_path_factory.mktemp("demo")
    proc = _run("demo", "--dir", "studio demo", cwd=cwd)  # a space in the path, as on many laptops
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return cwd / "studio demo", proc


def _table_rows(output: str, title: str) -> list[list[str]]:
    """The body rows of the rich table printed under ``title``."""
    lines = output[output.index(title):].splitlines()
    rows, started = [], False
    for line in lines[1:]:
        if line.startswith(("┡", "├")):
            started = True
            continue
        if line.startswith("└"):
            break
        if started and line.startswith("│"):
            rows.append([cell.strip() for cell in line.strip("│").split("│")])
    return rows


def test_demo_prints_shot_progress_equal_to_the_dump(demo_run, dump):
    _, proc = demo_run
    sequences = {s["id"]: s for s in dump["Sequence"]}
    episodes = {e["id"]: e["code"] for e in dump["CustomEntity01"]}
    projects = {p["id"]: p["name"] for p in dump["Project"]}
    expected: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for shot in dump["Shot"]:
        seq = sequences[shot["sg_sequence"]["id"]]
        episode = episodes[seq["sg_episode"]["id"]] if seq["sg_episode"] else "(none)"
        expected[(projects[shot["project"]["id"]], episode)][shot["sg_status_list"]] += 1
    printed = _table_rows(proc.stdout, "Shot progress by episode")
    assert len(printed) == len(expected)
    for project, episode, total, final, in_progress, waiting, held, _pct in printed:
        counts = expected[(project, episode)]
        assert int(total) == sum(counts.values())
        assert int(final) == counts["fin"]
        assert int(in_progress) == counts["ip"] + counts["rev"]
        assert int(waiting) == counts["wtg"] + counts["rdy"]
        assert int(held) == counts["hld"] + counts["omt"]
    assert sum(int(r[2]) for r in printed) == len(dump["Shot"])


def test_demo_prints_time_against_bid_per_step(demo_run, dump):
    _, proc = demo_run
    steps = {s["id"]: s["code"] for s in dump["Step"]}
    tasks, bid, logged = Counter(), Counter(), Counter()
    task_step = {}
    for task in dump["Task"]:
        step = steps[task["step"]["id"]]
        task_step[task["id"]] = step
        tasks[step] += 1
        bid[step] += task["est_in_mins"]
    for log in dump["TimeLog"]:
        logged[task_step[log["entity"]["id"]]] += log["duration"]
    printed = {row[0]: row for row in _table_rows(proc.stdout, "Time logged against bid")}
    assert set(printed) == set(tasks)
    for step, row in printed.items():
        assert int(row[1]) == tasks[step]
        assert row[2] == f"{bid[step] / 60:,.0f}"
        assert row[3] == f"{logged[step] / 60:,.0f}"


def test_demo_loaded_every_record_and_built_the_marts(demo_run, studio_dump, dump):
    workdir, proc = demo_run
    layout = plan(sources.from_path(paths.schema_path()))
    with duckdb.connect(str(workdir / "studio.duckdb"), read_only=True) as con:
        for entity, records in dump.items():
            table = layout[entity].name
            retired = {r["id"] for r in studio_dump.retired[entity]}
            flagged = dict(con.execute(f"select id, _sg_retired from shotgrid_raw.{table}").fetchall())
            assert flagged == {r["id"]: False for r in records} | dict.fromkeys(retired, True)
            # Staging shows live records only.
            key = f"{table}_id"
            staged = {r[0] for r in con.execute(f"select {key} from analytics.stg_shotgrid__{table}").fetchall()}
            assert staged == {r["id"] for r in records}
        # Every task's logged time in the mart is the sum of its time logs, which SG itself keeps as
        # Task.time_logs_sum: the polymorphic join and the aggregation lose and duplicate nothing.
        mart = dict(con.execute("select task_id, logged_mins from analytics.task_time_vs_bid").fetchall())
        assert mart == {t["id"]: t["time_logs_sum"] for t in dump["Task"]}
        linked = dict(con.execute("select task_id, link_code from analytics.task_time_vs_bid").fetchall())
        codes = {(e, r["id"]): r["code"] for e in ("Shot", "Asset") for r in dump[e]}
        assert linked == {t["id"]: codes[(t["entity"]["type"], t["entity"]["id"])] for t in dump["Task"]}
    assert "Loaded 7," in proc.stdout and "dbt build: " in proc.stdout


def test_dbt_docs_generate_shows_sg_descriptions(demo_run, monkeypatch):
    from dbt.cli.main import dbtRunner

    workdir, _ = demo_run
    project = workdir / "project"
    for var in [v for v in os.environ if v.startswith("SG2DBT_")]:
        monkeypatch.delenv(var)
    monkeypatch.chdir(project)  # what the demo prints: cd into the project (the DuckDB path is relative to it)
    res = dbtRunner().invoke(["docs", "generate", "--profiles-dir", ".", "--quiet"])
    assert res.success, res.exception
    manifest = json.loads((project / "target" / "manifest.json").read_text(encoding="utf-8"))
    catalog = json.loads((project / "target" / "catalog.json").read_text(encoding="utf-8"))
    bid = "The bid: estimated work in minutes."  # Task.est_in_mins's description in examples/studio/schema.json
    model = next(n for n in manifest["nodes"].values() if n["name"] == "stg_shotgrid__task")
    assert bid in model["columns"]["est_in_mins"]["description"]
    source = next(s for s in manifest["sources"].values() if s["name"] == "task")
    assert bid in source["columns"]["est_in_mins"]["description"]
    # every column of every source table and staging model is described (the README says so)
    staged = [n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["name"].startswith("stg_")]
    for node in [*staged, *manifest["sources"].values()]:
        assert node["columns"] and all(c["description"] for c in node["columns"].values()), node["name"]
    # The catalog is read from the warehouse: the described column really exists in the built view.
    assert "est_in_mins" in {c.lower() for c in catalog["nodes"][model["unique_id"]]["columns"]}
    episode = next(n for n in manifest["nodes"].values() if n["name"] == "stg_shotgrid__custom_entity01")
    assert "Episode" in episode["description"] or episode["config"]["meta"].get("sg_display_name") == "Episode"


def test_example_marts_parse_without_deprecations(demo_run, monkeypatch):
    import dbt.jsonschemas.jsonschemas as js
    from dbt.cli.main import dbtRunner

    workdir, _ = demo_run
    project = workdir / "project"
    for var in [v for v in os.environ if v.startswith("SG2DBT_")]:
        monkeypatch.delenv(var)
    # dbt skips its JSON-schema checks on duckdb/postgres; pretend they are supported to see deprecations.
    monkeypatch.setattr(js, "_JSONSCHEMA_SUPPORTED_ADAPTERS", {"duckdb", "postgres"})
    events: list = []
    res = dbtRunner(callbacks=[events.append]).invoke(
        ["parse", "--no-partial-parse", "--project-dir", str(project), "--profiles-dir", str(project), "--quiet"])
    assert res.success, res.exception
    warnings = [f"{e.info.name}: {e.info.msg}" for e in events
                if e.info.level in ("warn", "error") or "Deprecation" in e.info.name]
    assert warnings == []
    assert {"shot_progress_by_sequence", "shot_progress_by_episode", "task_time_vs_bid"} <= {
        n.name for n in res.result.nodes.values() if n.resource_type == "model"}


def test_demo_refuses_a_directory_it_did_not_make(tmp_path: Path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep me", encoding="utf-8")
    proc = _run("demo", "--dir", "mine", cwd=tmp_path)
    assert proc.returncode == 2
    assert "not an sg2dbt demo directory" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["thesis.tex"]
