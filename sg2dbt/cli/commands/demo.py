"""``sg2dbt demo``: the first five minutes, on DuckDB, with nothing but ``pip install``."""

from __future__ import annotations

import shlex
from pathlib import Path

import click


@click.command()
@click.option("--dir", "workdir", default="demo", show_default=True, type=click.Path(file_okay=False),
              help="Working directory for the dump, the dbt project and the DuckDB file (refreshed if it "
                   "holds an earlier demo).")
@click.option("--seed", type=int, default=None, help="Seed of the synthetic studio (same seed, same data).")
def demo(workdir: str, seed: int | None) -> None:
    """Generate a demo studio, load it into DuckDB, run dbt build and print what the marts say."""
    from rich.console import Console

    from sg2dbt.demo.generate import DEFAULT_SEED
    from sg2dbt.demo.run import DB_FILE, MODEL_SCHEMA, PROJECT_DIR, RAW_SCHEMA, run_demo

    console = Console(log_path=False)
    with console.status("starting") as status:
        def step(message: str) -> None:
            console.log(message)
            status.update(message)

        result = run_demo(Path(workdir), seed=DEFAULT_SEED if seed is None else seed, step=step)
    for table in result.report.tables():
        console.print(table)
    nodes = ", ".join(f"{n} {status}" for status, n in sorted(result.dbt_counts.items()))
    project, warehouse = Path(workdir) / PROJECT_DIR, Path(workdir) / DB_FILE
    console.print(
        f"Loaded {sum(result.loaded.values()):,} records into {len(result.loaded)} raw tables.\n"
        f"dbt build: {nodes}.\n"
        f"Done in {result.seconds:.0f} s. The dbt project is {project}, the warehouse {warehouse}\n"
        f"(raw tables in schema {RAW_SCHEMA}, models in {MODEL_SCHEMA}). Try:\n"
        f"  cd {shlex.quote(str(project))} && dbt docs generate --profiles-dir .",
        highlight=False, soft_wrap=True)
