"""The demo's closing report: what the example marts say about the synthetic studio, as rich tables.

Read straight from the warehouse the demo built, through the relation names dbt reported, so the numbers
printed are the numbers the marts hold (the tests compare them with counts computed from the dump).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table


@dataclass(frozen=True)
class Report:
    episodes: list[dict[str, Any]]   # shot_progress_by_episode, one row per project and episode
    steps: list[dict[str, Any]]      # task_time_vs_bid rolled up per pipeline step

    def tables(self) -> list[Table]:
        progress = Table(title="Shot progress by episode (mart shot_progress_by_episode)")
        # Short headers: the table fits an 80-column terminal. Active = ip + rev, Waiting = wtg + rdy,
        # Held = hld + omt (the mart's columns say so in its YAML).
        for label, justify in (("Project", "left"), ("Episode", "left"), ("Shots", "right"),
                               ("Final", "right"), ("Active", "right"), ("Waiting", "right"),
                               ("Held", "right"), ("% final", "right")):
            progress.add_column(label, justify=justify, no_wrap=True)  # type: ignore[arg-type]
        for r in self.episodes:
            progress.add_row(r["project_name"], r["episode_code"], str(r["shots_total"]), str(r["shots_final"]),
                             str(r["shots_in_progress"]), str(r["shots_waiting"]),
                             str(r["shots_held_or_omitted"]), _pct(r["pct_final"]))
        time = Table(title="Time logged against bid per pipeline step (mart task_time_vs_bid)")
        for label, justify in (("Step", "left"), ("Tasks", "right"), ("Bid (h)", "right"),
                               ("Logged (h)", "right"), ("% of bid", "right"), ("Tasks over bid", "right")):
            time.add_column(label, justify=justify, no_wrap=True)  # type: ignore[arg-type]
        for r in self.steps:
            time.add_row(r["step"], str(r["tasks"]), f"{r['bid_mins'] / 60:,.0f}", f"{r['logged_mins'] / 60:,.0f}",
                         _pct(100.0 * r["logged_mins"] / r["bid_mins"] if r["bid_mins"] else None),
                         str(r["over_bid"]))
        return [progress, time]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def read_report(db_path: Path, relations: dict[str, str]) -> Report:
    """Query the marts in the DuckDB file; ``relations`` maps model name to the relation dbt built."""
    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as con:
        def rows(sql: str) -> list[dict[str, Any]]:
            cur = con.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

        episodes = rows(f"select * from {relations['shot_progress_by_episode']} order by project_name, episode_code")
        steps = rows(
            "select step, count(*) as tasks, sum(coalesce(bid_mins, 0)) as bid_mins, "
            "sum(logged_mins) as logged_mins, sum(case when over_bid_mins > 0 then 1 else 0 end) as over_bid "
            f"from {relations['task_time_vs_bid']} group by step order by step")
    return Report(episodes=episodes, steps=steps)
