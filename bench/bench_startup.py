"""Benchmark how long ``sg2dbt --help`` and ``sg2dbt --version`` take to start, beside a bare interpreter and
the package's eager import of its ORM (what ``import sg2dbt`` cost before the imports became lazy), in one run.

Each figure is a whole process (the ``sg2dbt`` console script this interpreter's venv has), run several times
after one warm-up; the median counts. Target: under 0.3 s for ``--help`` and ``--version``.

Usage: python bench/bench_startup.py [--repeats 15] [--no-write]
Writes the ``## sg2dbt start-up`` section of BENCHMARKS.md (other sections are left as they are).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks_md import write_section  # bench/: the section writer every benchmark shares

REPO = Path(__file__).resolve().parent.parent
SECTION = "## sg2dbt start-up"
EAGER = "python -c 'import sg2dbt.emit.orm' (the former eager import)"


def commands() -> dict[str, list[str]]:
    script = shutil.which("sg2dbt", path=str(Path(sys.executable).parent)) or "sg2dbt"
    return {
        "python -c pass (interpreter alone)": [sys.executable, "-c", "pass"],
        "sg2dbt --help": [script, "--help"],
        "sg2dbt --version": [script, "--version"],
        "sg2dbt ddl --help (one command's module)": [script, "ddl", "--help"],
        EAGER: [sys.executable, "-c", "import sg2dbt.emit.orm"],
    }


def timed(argv: list[str], repeats: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(argv, env=env, check=True, capture_output=True)   # warm the file cache
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def render(results: dict[str, float], repeats: int) -> str:
    base = results["python -c pass (interpreter alone)"]
    eager = results[EAGER]
    lines = [
        SECTION, "",
        f"`python bench/bench_startup.py` on {platform.machine()} (2 cores, shared with other work), Python "
        f"{platform.python_version()}; each figure is the median of {repeats} whole-process runs after one warm-up, "
        f"seconds. Target: `sg2dbt --help` and `--version` under 0.3 s.", "",
        "| command | seconds | / interpreter alone | / former eager import |", "|---|---:|---:|---:|",
    ]
    for name, secs in results.items():
        lines.append(f"| {name} | {secs:.3f} | {secs / base:.1f} | {secs / eager:.2f} |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    args = ap.parse_args()
    results = {name: timed(argv, args.repeats) for name, argv in commands().items()}
    text = render(results, args.repeats)
    if not args.no_write:
        write_section(SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
