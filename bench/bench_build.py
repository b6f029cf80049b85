"""Benchmark `sg2dbt build` on the real schema and on a 10x synthetic one, beside shotgrid_orm, in one run.

Every figure is a whole process (interpreter start, imports, schema read, output written), timed several
times; the median counts. The same run times:

* ``sg2dbt build``  the whole dbt project (sources, staging, bridges, macros, raw DDL, README);
* ``sg2dbt orm``    sg2dbt's standalone ORM module, the part of the job shotgrid_orm also does;
* ``shotgrid_orm``  ``SGORM(...).create_script(...)``, the alternative a user would pick for that part;
* ``dbt parse``     full parse (no partial parse) of the generated projects, fewer repeats (it is slow).

The 10x schema clones every entity nine times under new names (``Shot`` -> ``ShotC1`` ...) with links
renamed inside each clone, so it has the real schema's shape at ten times the size.

Usage: python bench/bench_build.py [--schema FILE] [--repeats 5] [--parse-repeats 1] [--no-write]
Writes the ``## sg2dbt build`` section of BENCHMARKS.md (other sections are left as they are).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks_md import write_section  # bench/: the section writer every benchmark shares

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SCHEMA = REPO.parent / "shared" / "data" / "shotgun-api3-mockgun-schema.json"
BIN = Path(sys.executable).parent
SECTION = "## sg2dbt build"


def clone_schema(doc: dict[str, Any], copies: int) -> dict[str, Any]:
    """The seed-format schema ``copies`` times: copy k renames every entity ``E`` to ``E C<k>`` (``EC<k>``)
    and the valid_types of its links to the same copy."""
    out: dict[str, Any] = {}
    for k in range(copies):
        suffix = f"C{k}" if k else ""
        for name, body in doc.items():
            clone = json.loads(json.dumps(body))
            for spec in clone.get("fields", {}).values():
                vt = spec.get("properties", {}).get("valid_types")
                if isinstance(vt, dict) and isinstance(vt.get("value"), list):
                    vt["value"] = [f"{t}{suffix}" for t in vt["value"]]
                if "entity_type" in spec:
                    spec["entity_type"] = f"{name}{suffix}"
            if isinstance(clone.get("name"), dict) and suffix:
                clone["name"]["value"] = f"{clone['name']['value']} {suffix}"
            out[f"{name}{suffix}"] = clone
    return out


def timed(cmd: Sequence[str], repeats: int, before: Callable[[], None] | None = None) -> list[float]:
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
        times.append(time.perf_counter() - start)
    return times


def fresh(path: Path) -> Callable[[], None]:
    def clear() -> None:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    return clear


def run(schema_path: Path, repeats: int, parse_repeats: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench_build_"))
    try:
        doc = json.loads(schema_path.read_text())
        schemas = {"1x": schema_path, "10x": work / "schema10x.json"}
        schemas["10x"].write_text(json.dumps(clone_schema(doc, 10)))
        results: dict[str, Any] = {}
        for label, path in schemas.items():
            out, module, orm_module = work / f"project_{label}", work / f"sg2dbt_{label}.py", work / f"sgorm_{label}.py"
            build = [str(BIN / "sg2dbt"), "build", "--schema", str(path), "--out", str(out)]
            orm = [str(BIN / "sg2dbt"), "orm", "--schema", str(path), "--out", str(module)]
            sgorm = [sys.executable, "-c",
                     "import sys; from shotgrid_orm import SGORM, SchemaType; "
                     "SGORM(sg_schema_type=SchemaType.JSON_FILE, sg_schema_source=sys.argv[1], echo=False)"
                     ".create_script(sys.argv[2])", str(path), str(orm_module)]
            r: dict[str, Any] = {
                "entities": len(json.loads(path.read_text())),
                "sg2dbt build": timed(build, repeats, fresh(out)),
                "sg2dbt build (refresh, nothing changed)": timed(build, repeats),
                "sg2dbt orm": timed(orm, repeats, fresh(module)),
                "shotgrid_orm create_script": timed(sgorm, repeats, fresh(orm_module)),
            }
            r["models"] = sum(1 for _ in (out / "models").rglob("*.sql"))
            parse = [str(BIN / "dbt"), "parse", "--no-partial-parse", "--project-dir", str(out),
                     "--profiles-dir", str(out)]
            r["dbt parse"] = timed(parse, parse_repeats)
            results[label] = r
            print(label, {k: (round(statistics.median(v), 2) if isinstance(v, list) else v) for k, v in r.items()},
                  file=sys.stderr)
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def render(results: dict[str, Any], repeats: int, parse_repeats: int, schema_path: Path) -> str:
    med = {label: {k: statistics.median(v) for k, v in r.items() if isinstance(v, list)}
           for label, r in results.items()}
    one, ten = med["1x"], med["10x"]
    tasks = list(one)
    lines = [
        SECTION,
        "",
        f"`python bench/bench_build.py` on {platform.machine()} ({os.cpu_count()} cores, shared with other work), "
        f"Python {platform.python_version()}; each figure is the median of {repeats} whole-process runs "
        f"(`dbt parse`: {parse_repeats}), seconds. Schema: `{schema_path.name}` "
        f"({results['1x']['entities']} entities, {results['1x']['models']} dbt models) and its 10x clone "
        f"({results['10x']['entities']} entities, {results['10x']['models']} dbt models).",
        "",
        "| task | 1x (s) | 10x (s) | 10x / 1x |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {t} | {one[t]:.2f} | {ten[t]:.2f} | {ten[t] / one[t]:.1f} |" for t in tasks]
    lines += [
        "",
        "Ratios against the alternative (shotgrid_orm does only the ORM part of the job):",
        "",
        "| ratio | 1x | 10x |",
        "|---|---:|---:|",
        f"| sg2dbt build (whole dbt project) / shotgrid_orm create_script | "
        f"{one['sg2dbt build'] / one['shotgrid_orm create_script']:.2f} | "
        f"{ten['sg2dbt build'] / ten['shotgrid_orm create_script']:.2f} |",
        f"| sg2dbt orm / shotgrid_orm create_script (same part) | "
        f"{one['sg2dbt orm'] / one['shotgrid_orm create_script']:.2f} | "
        f"{ten['sg2dbt orm'] / ten['shotgrid_orm create_script']:.2f} |",
        f"| dbt parse / sg2dbt build | {one['dbt parse'] / one['sg2dbt build']:.1f} | "
        f"{ten['dbt parse'] / ten['sg2dbt build']:.1f} |",
        "",
        f"Linearity: `sg2dbt build` 10x / 1x = **{ten['sg2dbt build'] / one['sg2dbt build']:.1f}** "
        "(target: about 10 or less; a fixed start-up cost of imports makes it smaller than 10).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--parse-repeats", type=int, default=1)
    ap.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    args = ap.parse_args()
    results = run(args.schema, args.repeats, args.parse_repeats)
    text = render(results, args.repeats, args.parse_repeats, args.schema)
    if args.no_write:
        print(text)
    else:
        write_section(SECTION, text)
        print(text)


if __name__ == "__main__":
    main()
