"""Benchmark: ``sg2dbt load --from-dump`` into DuckDB beside DuckDB's own read of the same dump (the limit).

The dump: N Shot records of the shared real schema (``shotgun-api3-mockgun-schema.json``; every field filled
the way SG returns it, links to the schema's other entities, by ``tests/support/sgsite.record``), written as
``sg2dbt dump`` writes them (one JSON record a line, datetimes as ISO strings with offsets, a manifest).

Each round, side by side on the same file, each into a fresh DuckDB database file:

* native: ``CREATE TABLE t AS SELECT * FROM read_json(dump)`` (DuckDB detects the types itself; nothing
  is converted or checked: the limit);
* sg2dbt (CLI): the real command, ``sg2dbt load --from-dump DIR --db duckdb:///... --quiet``, wall clock of
  the whole process (start-up, raw tables, drift check, the load, the sync state);
* sg2dbt (in process): ``sg2dbt.loader.load`` on the same dump (what the command runs, without start-up);
* row path (``--row-path``, once: it is slow): the same load with DuckDB's SQL path turned off.

    python bench/bench_duckdb.py                      # 150,000 rows, medians of 3 rounds
    python bench/bench_duckdb.py --rows 20000 --rounds 1 --row-path
    python bench/bench_duckdb.py --memory              # peak RSS of a load of 100,000 vs 1,000,000 rows
                                                       # (sg2dbt in process, and DuckDB's native read)

Prints JSON; ``--write`` rewrites the "sg2dbt load into DuckDB" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import duckdb  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from benchmarks_md import in_fresh_processes, write_section  # noqa: E402  # bench/: what every benchmark shares

from sg2dbt.core.layout import plan  # noqa: E402
from sg2dbt.loader import DumpSource, LoadOptions, duckdb_bulk, load  # noqa: E402
from sg2dbt.loader.dump import _ENCODER, MANIFEST, EntityCounts, Manifest  # noqa: E402
from sg2dbt.schema import sources  # noqa: E402
from tests.support.sgsite import record  # noqa: E402

SCHEMA_JSON = Path(os.environ.get("SG2DBT_SHARED_DATA", REPO.parent / "shared" / "data")) / \
    "shotgun-api3-mockgun-schema.json"
SECTION = "## sg2dbt load into DuckDB"


def make_dump(directory: Path, n: int) -> Path:
    """``Shot.jsonl`` of n records and its manifest, as ``sg2dbt dump`` writes them (cached by size)."""
    path = directory / "Shot.jsonl"
    if path.is_file() and (directory / MANIFEST).is_file() and \
            json.loads((directory / MANIFEST).read_text())["entities"]["Shot"]["live"] == n:
        return path
    schema = sources.from_path(SCHEMA_JSON)
    started = dt.datetime.now(dt.timezone.utc)
    directory.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(1, n + 1):
            fh.write(_ENCODER.encode(record(schema["Shot"], i, schema)) + "\n")
    (directory / MANIFEST).write_text(Manifest(started, {"Shot": EntityCounts(started, n, 0)}).as_json())
    return path


def _fresh(path: Path) -> Path:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)
    return path


def native(dump: Path, db: Path) -> float:
    con = duckdb.connect(str(_fresh(db)))
    t0 = time.perf_counter()
    con.execute(f"CREATE TABLE shot AS SELECT * FROM read_json('{dump}', format = 'newline_delimited')")
    seconds = time.perf_counter() - t0
    con.close()
    return seconds


def cli(dump_dir: Path, db: Path) -> float:
    cmd = [sys.executable, "-c", "from sg2dbt.cli import main; main()", "load", "--schema", str(SCHEMA_JSON),
           "--only", "Shot",
           "--from-dump", str(dump_dir), "--db", f"duckdb:///{_fresh(db)}", "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env)
    return time.perf_counter() - t0


def in_process(dump_dir: Path, db: Path, *, sql_path: bool = True) -> float:
    layout = plan(sources.from_path(SCHEMA_JSON).filtered(only=["Shot"]))
    engine = sa.create_engine(f"duckdb:///{_fresh(db)}")
    applies = duckdb_bulk.applies
    if not sql_path:
        duckdb_bulk.applies = lambda source, writer: False   # type: ignore[assignment]
    try:
        t0 = time.perf_counter()
        summary = load(engine, layout, DumpSource(dump_dir), LoadOptions(workers=1))
        seconds = time.perf_counter() - t0
    finally:
        duckdb_bulk.applies = applies   # type: ignore[assignment]
        engine.dispose()
    assert not summary.failed and summary.rows > 0, summary.as_dict()
    return seconds


def run(n: int, rounds: int, row_path: bool) -> dict[str, Any]:
    work = Path(tempfile.gettempdir()) / "sg2dbt-bench-duckdb"
    dump_dir = work / f"dump-{n}"
    dump = make_dump(dump_dir, n)
    db = work / "bench.duckdb"
    secs: dict[str, list[float]] = {"native": [], "cli": [], "in_process": []}
    loads: list[float] = []
    for _ in range(rounds):
        loads.append(os.getloadavg()[0])
        secs["native"].append(native(dump, db))
        secs["cli"].append(cli(dump_dir, db))
        secs["in_process"].append(in_process(dump_dir, db))
    loads.append(os.getloadavg()[0])
    if row_path:
        secs["row_path"] = [in_process(dump_dir, db, sql_path=False)]
    med = {k: statistics.median(v) for k, v in secs.items()}
    return {"rows": n, "rounds": rounds, "dump_mb": round(dump.stat().st_size / 1e6),
            "load_average": [round(x, 1) for x in loads],
            "seconds_median": {k: round(v, 2) for k, v in med.items()},
            "seconds_per_round": {k: [round(x, 2) for x in v] for k, v in secs.items()},
            "rows_per_s": {k: round(n / v) for k, v in med.items()},
            "speed_vs_native": {k: round(med["native"] / v, 2) for k, v in med.items() if k != "native"},
            "per_round_vs_native": {k: [round(a / b, 2) for a, b in zip(secs["native"], v, strict=False)]
                                    for k, v in secs.items() if k not in ("native", "row_path")}}


def memory_child(n: int, path: str) -> None:
    """One load of an n-row dump in this process (``path``: the in-process load, or DuckDB's native read);
    prints peak RSS (ru_maxrss) as JSON."""
    import resource

    work = Path(tempfile.gettempdir()) / "sg2dbt-bench-duckdb"
    dump_dir = work / f"dump-{n}"
    dump = make_dump(dump_dir, n)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    db = work / "memory.duckdb"
    seconds = native(dump, db) if path == "native" else in_process(dump_dir, db)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": n, "seconds": round(seconds, 1), "peak_rss_mb_before_load": round(before / 1024),
                      "peak_rss_mb": round(after / 1024)}))


def markdown(r: dict[str, Any]) -> str:
    med, rps, vs, per = r["seconds_median"], r["rows_per_s"], r["speed_vs_native"], r["per_round_vs_native"]
    lines = [SECTION, "",
             f"`python bench/bench_duckdb.py` on x86_64 (2 cores shared with other work; load average "
             f"{min(r['load_average'])}-{max(r['load_average'])} during the run), DuckDB {duckdb.__version__}. "
             f"{r['rows']:,} Shot records of the shared real schema as `sg2dbt dump` writes them "
             f"({r['dump_mb']} MB of JSON lines); medians of {r['rounds']} rounds, each path into a fresh database "
             f"file, side by side in each round.", "",
             "| path | seconds | rows/s | speed / native |", "|---|---:|---:|---:|",
             f"| DuckDB's own `read_json` of the dump into a table (the limit; no conversion, no checks) | "
             f"{med['native']} | {rps['native']:,} | 1.00 |",
             f"| `sg2dbt load --from-dump` (the CLI process, start-up included) | {med['cli']} | {rps['cli']:,} | "
             f"**{vs['cli']}** |",
             f"| `sg2dbt.loader.load` in process (what the command runs) | {med['in_process']} | "
             f"{rps['in_process']:,} | **{vs['in_process']}** |"]
    if "row_path" in med:
        lines.append(f"| the row path (SQL path off; one round) | {med['row_path']} | {rps['row_path']:,} | "
                     f"{vs['row_path']} |")
    lines += ["", f"Per round, speed / native: CLI {', '.join(map(str, per['cli']))}; in process "
                  f"{', '.join(map(str, per['in_process']))}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=150_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--row-path", action="store_true", help="also time the row path once")
    parser.add_argument("--write", action="store_true", help="rewrite the BENCHMARKS.md section")
    parser.add_argument("--memory", action="store_true", help="peak RSS at 100,000 vs 1,000,000 rows")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--path", default="sg2dbt", choices=["sg2dbt", "native"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.path)
        return
    if args.memory:
        sizes = [100_000, 1_000_000]
        print(json.dumps({"load_average": os.getloadavg()[0], "sg2dbt": in_fresh_processes(__file__, sizes),
                          "native": in_fresh_processes(__file__, sizes, ["--path", "native"])}, indent=1))
        return
    result = run(args.rows, args.rounds, args.row_path)
    print(json.dumps(result, indent=1))
    if args.write:
        write_section(SECTION, markdown(result))


if __name__ == "__main__":
    main()
