"""``sg2dbt sync`` (keep the warehouse equal to the site) and ``sg2dbt status`` (where each entity stands)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sg2dbt.cli.commands.load import SITE_KEYS, _site_source, _split, retry_options
from sg2dbt.cli.commands.options import current_config, db_option, raw_schema_option, site_options
from sg2dbt.core.errors import LoadError


def _selection(func: Any) -> Any:
    for opt in reversed([
        click.option("--only", multiple=True, help="Sync only these entities (repeatable; config: "
                                                   "selection.entities)."),
        click.option("--ignore", multiple=True, help="Leave out these entities (repeatable; config: "
                                                     "selection.ignored_entities)."),
        click.option("--ignore-field", multiple=True, help="Leave out a field: 'field' or 'Entity.field' "
                                                           "(repeatable; config: selection.ignored_fields)."),
    ]):
        func = opt(func)
    return func


@click.command()
@site_options
@db_option
@raw_schema_option
@_selection
@click.option("--watch", is_flag=True, help="Keep running: poll the event log every --interval seconds.")
@click.option("--interval", type=click.FloatRange(0.1), help="Seconds between cycles (implies --watch; config: "
                                                            "sync.interval, default 5).")
@click.option("--scan-interval", type=click.FloatRange(0), help="Seconds between updated_at safety scans (config: "
                                                                "sync.scan_interval, default 300; 0: every cycle).")
@click.option("--lock-timeout", type=click.FloatRange(0), help="Seconds to wait for another sync's lock (config: "
                                                               "sync.lock_timeout, default 60).")
@click.option("--workers", type=click.IntRange(1, 64), help="Entities loaded in parallel (config: sync.workers).")
@click.option("--removed", type=click.Choice(["keep", "drop"]),
              help="A field or entity gone from the site: keep its column, or drop it (config: "
                   "schema_changes.removed, default keep).")
@click.option("--dbt-build", type=click.Choice(["changed", "all", "none"]),
              help="dbt build after a sync: the models whose schema changed, all, or none (config: sync.dbt_build).")
@click.option("--project-dir", type=click.Path(file_okay=False),
              help="The dbt project to refresh when the schema changes (config: dbt.project_dir).")
@click.option("--json", "as_json", is_flag=True, help="One JSON summary line per cycle on stdout.")
@retry_options
def sync(url: str, raw_schema: str, only: tuple[str, ...], ignore: tuple[str, ...], ignore_field: tuple[str, ...],
         watch: bool, interval: float | None, scan_interval: float | None, lock_timeout: float | None,
         workers: int | None, removed: str | None, dbt_build: str | None, project_dir: str | None, as_json: bool,
         retries: int, retry_delay: float, max_requests: int, **opts: Any) -> None:
    """Keep the raw tables (and the dbt project) equal to the site: schema, event log, updated_at scan."""
    from sg2dbt.core.database import create_engine
    from sg2dbt.core.layout import RawLayout
    from sg2dbt.core.model import Schema
    from sg2dbt.emit.project import ProjectOptions
    from sg2dbt.sync.dbtbuild import DbtStep
    from sg2dbt.sync.lock import warehouse_lock
    from sg2dbt.sync.run import CycleSummary, Syncer, SyncOptions
    from sg2dbt.sync.run import watch as run_watch

    config = current_config()
    site = _split(opts, SITE_KEYS)
    source = _site_source(site, RawLayout(Schema.of([]), {}), retries, retry_delay, max_requests=max_requests)
    engine = create_engine(url)
    project = Path(project_dir) if project_dir else config.dbt.project_dir
    db_path = Path(engine.url.database) if engine.dialect.name == "duckdb" and engine.url.database else None
    options = SyncOptions(
        raw_schema=raw_schema or None, workers=workers or config.sync.workers,
        scan_interval=config.sync.scan_interval if scan_interval is None else scan_interval,
        removed=removed or config.schema_changes.removed,  # type: ignore[arg-type]
        project_dir=project,
        project=ProjectOptions(adapter=config.dbt.adapter, raw_schema=raw_schema or "main", db_path=db_path)
        if project else None,
        dbt_build=dbt_build or config.sync.dbt_build,  # type: ignore[arg-type]
        only=only, ignore=ignore, ignore_fields=ignore_field)
    dbt = DbtStep(engine.url, options) if project and options.dbt_build != "none" else None
    worst = 0

    def report(summary: CycleSummary) -> None:
        nonlocal worst
        if dbt is not None:
            summary.dbt = dbt.after(summary, engine)
        bad = summary.failed
        for line in summary.held:
            click.echo(f"sg2dbt: warning: {line}", err=True)
        for result in bad:
            click.echo(f"sg2dbt: error: {result.error}", err=True)
        if summary.dbt and not summary.dbt.get("success", True):
            click.echo(f"sg2dbt: error: dbt build failed: {summary.dbt.get('error')}", err=True)
        if bad or summary.held or (summary.dbt and not summary.dbt.get("success", True)):
            worst = 2
        if as_json:
            click.echo(json.dumps(summary.as_dict(), sort_keys=True, default=str))
        else:
            lag = summary.as_dict()["lag_events"]
            click.echo(f"sync: {summary.events} events, {summary.rows} rows, {len(bad)} failed"
                       f"{', scanned' if summary.scanned else ''}, event cursor {summary.cursor} (lag {lag}), "
                       f"{summary.seconds:.2f} s", err=True)

    try:
        with warehouse_lock(engine, options.raw_schema, config.sync.lock_timeout if lock_timeout is None
                            else lock_timeout):
            syncer = Syncer(engine, source, options)
            if watch or interval is not None:
                run_watch(syncer, interval if interval is not None else config.sync.interval, report)
                return
            report(syncer.cycle())
    finally:
        engine.dispose()
    if worst:
        raise LoadError("sync finished with failures (listed above)")


@click.command()
@db_option
@raw_schema_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(url: str, raw_schema: str, as_json: bool) -> None:
    """Where each entity stands: last sync, mode, rows live and retired, lag behind the event log, failures."""
    from sg2dbt.core.database import create_engine
    from sg2dbt.sync.status import status as read_status

    engine = create_engine(url)
    try:
        doc = read_status(engine, raw_schema or None)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(doc, sort_keys=True))
        return
    click.echo(f"event cursor {doc['event_cursor']}, newest event {doc['newest_event']}, lag {doc['lag_events']} "
               f"events; last scan {doc['last_scan']}; {doc['failed']} failing")
    for e in doc["entities"]:
        click.echo(f"  {e['entity']:<28} {e['mode'] or '-':<20} live {e['rows_live']!s:>8} retired "
                   f"{e['rows_retired']!s:>6}  last sync {e['last_sync']}"
                   + (f"  FAILED: {e['error']}" if e["error"] else "")
                   + (f"  ({e['pending']} pending)" if e["pending"] else ""))
