"""``sg2dbt demo``: the first five minutes, on DuckDB, with nothing but ``pip install``."""

from __future__ import annotations

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
    from sg2dbt.demo.run import run_demo

    console = Console(log_path=False)
    with console.status("starting") as status:
        def step(message: str) -> None:
            console.log(message)
            status.update(message)

        result = run_demo(Path(workdir), seed=DEFAULT_SEED if seed is None else seed, step=step)
    for table in result.report.tables():
        console.print(table)
    nodes = ", ".join(f"{n} {status}" for status, n in sorted(result.dbt_counts.items()))
    rel = Path(workdir)
    console.print(
        f"Loaded {sum(result.loaded.values()):,} records into {len(result.loaded)} raw tables; "
        f"dbt build: {nodes}. Took {result.seconds:.0f} s.\n"
        f"Next: open the project in {rel / 'project'} and run dbt yourself, e.g.\n"
        f"  dbt docs generate --project-dir {rel / 'project'} --profiles-dir {rel / 'project'}\n"
        f"The warehouse is {rel / 'studio.duckdb'} (raw tables in schema shotgrid_raw, models in analytics).",
        highlight=False)
