"""What a person at a terminal sees while loading: rich progress bars, then a summary table."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from sg2dbt.loader.run import LoadSummary


class RichProgress:
    """A bar for the entities done, and a live row counter per entity being loaded (on stderr)."""

    def __init__(self, total: int) -> None:
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[rows]:>10,} rows"),
                                 TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self.overall = self.progress.add_task("entities", total=total, rows=0)
        self.tasks: dict[str, Any] = {}
        self.rows: dict[str, int] = {}
        self.total = 0
        self.lock = threading.Lock()

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.progress.stop()

    def __call__(self, entity: str, event: str, count: int) -> None:
        with self.lock:
            if event == "start":
                self.tasks[entity] = self.progress.add_task(f"  {entity}", total=None, rows=0)
                self.rows[entity] = 0
            elif event == "rows":
                self.rows[entity] += count
                self.total += count
                self.progress.update(self.tasks[entity], rows=self.rows[entity])
                self.progress.update(self.overall, rows=self.total)
            elif event == "done":
                self.progress.remove_task(self.tasks.pop(entity))
                self.rows.pop(entity, None)
                self.progress.advance(self.overall)


def print_summary(summary: LoadSummary) -> None:
    """One line per entity that wrote, changed or failed (unchanged entities would drown the rest)."""
    table = Table(title=f"sg2dbt load from {summary.source}: {summary.rows:,} rows in {summary.seconds:.1f}s")
    errors = bool(summary.failed)
    headers = ["entity", "mode", "written", "retired", "revived", "live rows", "seconds"]
    headers += ["error"] if errors else []
    for col in headers:
        table.add_column(col, justify="left" if col in ("entity", "mode", "error") else "right")
    for e in summary.entities:
        if e.rows or e.error or e.revived or e.deleted:
            table.add_row(e.entity, e.mode, f"{e.rows:,}", f"{e.retired:,}", f"{e.revived:,}", f"{e.rows_live:,}",
                          f"{e.seconds:.2f}", *([e.error or ""] if errors else []))
    Console(stderr=True).print(table)
