"""``sg2dbt load`` (records into the raw tables) and ``sg2dbt dump`` (records into a directory of JSONL files)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sg2dbt.cli.commands.options import (
    db_option,
    quiet_option,
    raw_schema_option,
    read_schema,
    schema_options,
    site_credentials,
    site_options,
)
from sg2dbt.core.errors import LoadError, first_line
from sg2dbt.core.secrets import redact

if TYPE_CHECKING:
    from sg2dbt.core.layout import RawLayout

SITE_KEYS = ("site_url", "site_script", "api_key_env", "api_key_file", "site_login", "password_env", "password_file")
SCHEMA_KEYS = ("schema_path", "entity_schema_path", "only", "ignore", "ignore_field")


def _split(opts: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: opts.pop(k) for k in keys}


def _site_source(site: dict[str, Any], layout: RawLayout, retries: int, retry_delay: float,
                 hint: str = "", max_requests: int = 8) -> Any:
    """The site to read, already asked one small question: bad credentials fail before any work starts.
    ``hint`` ends a credentials error (``load`` can read a dump instead)."""
    from sg2dbt.loader import SiteSource
    from sg2dbt.loader.reader import RetryPolicy
    from sg2dbt.schema.connect import CredentialsError, connect

    try:
        creds = site_credentials(**site)
    except CredentialsError as exc:
        if not hint:
            raise
        raise CredentialsError(f"{exc} ({hint})") from None
    source = SiteSource(lambda: connect(creds), label=creds.label,
                        retry=RetryPolicy(attempts=retries, base_delay=retry_delay), max_requests=max_requests)
    if layout.tables:
        source.check(next(iter(layout)).entity.name)
    return source


def _site_label(url: str | None) -> str:
    """The site URL for the failure summary, its basic-auth password masked (or "site" if it is unusable)."""
    from sg2dbt.core.secrets import URLSecretError, site_url

    try:
        return site_url(url) if url else "site"
    except URLSecretError:
        return "site"


@contextlib.contextmanager
def _summary_on_failure(as_json: bool, source: str, layout: RawLayout) -> Iterator[None]:
    """A run that fails before any entity loads (the site's first answer, the database, the drift check)
    still prints its ``--json`` line, so a monitor reading it sees the failure: no entities, and ``error``."""
    import sqlalchemy as sa

    from sg2dbt.core.errors import Sg2dbtError

    try:
        yield
    except (Sg2dbtError, sa.exc.SQLAlchemyError) as exc:
        if as_json:
            cause = getattr(exc, "orig", None) or exc
            error = str(exc) if isinstance(exc, Sg2dbtError) else f"database error: {type(cause).__name__}: {cause}"
            click.echo(redact(json.dumps({
                "source": source, "started_at": dt.datetime.now(dt.timezone.utc).isoformat(), "seconds": 0.0,
                "rows": 0, "failed": len(layout.tables), "entities": [], "error": first_line(error)},
                sort_keys=True)))
        raise


def retry_options(func: Any) -> Any:
    """The options of every command that reads a site: retries, backoff, and the request cap."""
    func = click.option("--max-requests", default=8, show_default=True, type=click.IntRange(1, 64),
                        envvar="SG2DBT_MAX_REQUESTS", show_envvar=True,
                        help="Requests in flight to the site at once, across entities and the id ranges of a "
                             "big entity (SG rate-limits scripts).")(func)
    func = click.option("--retry-delay", default=1.0, show_default=True, type=click.FloatRange(0),
                        help="First backoff delay in seconds (doubles each attempt, at most 30 s).")(func)
    return click.option("--retries", default=5, show_default=True, type=click.IntRange(1),
                        help="Attempts per site call on transient failures (5xx, timeouts, dropped "
                             "connections).")(func)


@click.command()
@schema_options
@site_options
@db_option
@click.option("--from-dump", "dump_dir", type=click.Path(file_okay=False),
              help="Read an offline dump (one <Entity>.jsonl or .json per entity) instead of a site.")
@raw_schema_option
@click.option("--full-refresh", is_flag=True, help="Reload every entity whole instead of incrementally.")
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Entities loaded in parallel (one site and one database connection each).")
@click.option("--overlap", default=300, show_default=True, type=click.IntRange(0, 100 * 365 * 86400),
              help="Seconds re-read before the high-water mark (clock skew, records changed mid-load).")
@click.option("--lock-timeout", default=600.0, show_default=True, type=click.FloatRange(0),
              help="Seconds to wait for another loader of the same entity (PostgreSQL), then fail that entity "
                   "naming the holder.")
@quiet_option("No progress and no summary table (errors still go to stderr).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout (for cron and monitoring).")
@retry_options
def load(url: str, dump_dir: str | None, raw_schema: str, full_refresh: bool, workers: int, overlap: int,
         lock_timeout: float, quiet: bool, as_json: bool, retries: int, retry_delay: float, max_requests: int,
         **opts: Any) -> None:
    """Copy records from a site (or a dump) into the raw tables: full the first time, incremental after."""
    from sg2dbt.core.database import create_engine
    from sg2dbt.core.layout import plan
    from sg2dbt.evolve.migrate import require_no_drift
    from sg2dbt.loader import DumpSource, LoadOptions
    from sg2dbt.loader import load as run_load

    site = _split(opts, SITE_KEYS)
    layout = plan(read_schema(**_split(opts, SCHEMA_KEYS)))
    with _summary_on_failure(as_json, f"dump {dump_dir}" if dump_dir else _site_label(site["site_url"]), layout):
        source = DumpSource(dump_dir) if dump_dir else _site_source(site, layout, retries, retry_delay,
                                                                    "or read a dump instead: --from-dump DIR",
                                                                    max_requests=max_requests)
        engine = create_engine(url)
        options = LoadOptions(raw_schema=raw_schema or None, full_refresh=full_refresh, workers=workers,
                              overlap=dt.timedelta(seconds=overlap), lock_timeout=lock_timeout)
        show_progress = not quiet and not as_json and sys.stderr.isatty()
        try:
            if show_progress:
                from sg2dbt.loader.progress import RichProgress

                with RichProgress(len(layout.tables)) as hook:
                    summary = run_load(engine, layout, source, options, progress=hook, check=require_no_drift)
            else:
                summary = run_load(engine, layout, source, options, check=require_no_drift)
        finally:
            engine.dispose()
    if as_json:
        click.echo(redact(json.dumps(summary.as_dict(), indent=None, sort_keys=True)))
    elif not quiet:
        from sg2dbt.loader.progress import print_summary

        print_summary(summary)
    failed = summary.failed
    if failed:
        for result in failed[1:]:
            click.echo(redact(f"sg2dbt: error: {result.error}"), err=True)
        raise LoadError(f"{len(failed)} of {len(summary.entities)} entities failed; first: {failed[0].error}")


@click.command()
@schema_options
@site_options
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory for the dump files.")
@quiet_option("No per-entity lines.")
@retry_options
def dump(out: str, quiet: bool, retries: int, retry_delay: float, max_requests: int, **opts: Any) -> None:
    """Write every record of a site (live and retired) as <Entity>.jsonl / <Entity>.retired.jsonl files."""
    from sg2dbt.core.layout import plan
    from sg2dbt.loader.dump import write_dump

    site = _split(opts, SITE_KEYS)
    layout = plan(read_schema(**_split(opts, SCHEMA_KEYS)))
    source = _site_source(site, layout, retries, retry_delay, max_requests=max_requests)
    directory = Path(out)

    def report(entity: str, live: int, retired: int) -> None:
        if not quiet:
            click.echo(f"{entity}: {live} live, {retired} retired", err=True)

    write_dump(source, layout, directory, report)
    if not quiet:
        click.echo(f"wrote {len(layout.tables)} entities to {os.fspath(directory)}", err=True)
