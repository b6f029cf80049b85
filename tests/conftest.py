"""Shared fixtures: the real schema from ../shared/data, a real PostgreSQL, DuckDB and SQLite databases.

A test that needs PostgreSQL skips with the reason when none is reachable; with SG2DBT_REQUIRE_POSTGRES=1
(as .ci/run sets) it fails instead, so CI can never pass with the PostgreSQL tests skipped.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SG2DBT_SHARED_DATA", REPO.parent / "shared" / "data"))
REAL_SCHEMA_JSON = SHARED_DATA / "shotgun-api3-mockgun-schema.json"
REAL_SCHEMA_PICKLE = SHARED_DATA / "shotgun-api3-mockgun-schema.pickle"
REAL_ENTITY_PICKLE = SHARED_DATA / "shotgun-api3-mockgun-schema_entity.pickle"
PG_URL = os.environ.get("SG2DBT_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("SG2DBT_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that reaches PostgreSQL carries the ``postgres`` mark, however it asked for the server (the
    ``pg_engine``/``pg_schema`` fixtures, or a ``"postgresql"`` parameter of a per-database fixture), so the
    fast lane ``-m "not slow and not postgres"`` leaves out exactly those."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if {"pg_engine", "pg_schema"} & set(getattr(item, "fixturenames", ())) or "postgresql" in params.values():
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def real_schema_path() -> Path:
    if not REAL_SCHEMA_JSON.is_file():
        pytest.skip(f"real schema not found at {REAL_SCHEMA_JSON} (set SG2DBT_SHARED_DATA)")
    return REAL_SCHEMA_JSON


@pytest.fixture(scope="session")
def real_schema_pickles() -> tuple[Path, Path]:
    if not (REAL_SCHEMA_PICKLE.is_file() and REAL_ENTITY_PICKLE.is_file()):
        pytest.skip(f"Mockgun schema pickles not found in {SHARED_DATA} (set SG2DBT_SHARED_DATA)")
    return REAL_SCHEMA_PICKLE, REAL_ENTITY_PICKLE


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means the same here
        engine.dispose()
        reason = f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        if os.environ.get("SG2DBT_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_schema(pg_engine: sa.Engine) -> Iterator[str]:
    """A fresh, empty PostgreSQL schema for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with pg_engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{name}"'))
    yield name
    with pg_engine.begin() as conn:
        conn.execute(sa.text(f'drop schema "{name}" cascade'))


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    """A command run in-process configures the root logger (``-q`` sets it to ERROR, force=True replaces its
    handlers); put it back, or a later test's ``caplog`` sees nothing depending on the order tests ran in."""
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``sg2dbt`` run in-process through :func:`sg2dbt.cli.main`, the console script's own entry point:
    ``cli("ddl", "--schema", path)`` returns (exit status, stdout, stderr). Any exception but SystemExit
    propagates and fails the test, because a user would have seen it as a traceback."""
    from sg2dbt.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:  # mapped as the interpreter maps it: None is 0, a message is 1
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def duckdb_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def mariadb_database() -> Iterator[tuple[sa.Engine, str]]:
    """A fresh MariaDB database (MySQL's "schema") and an engine bound to it, dropped afterwards.

    MariaDB is optional (not a warehouse target): without a reachable server the test skips with the reason.
    """
    server = sa.create_engine(MARIADB_URL)
    try:
        with server.connect() as conn:
            conn.exec_driver_sql("select 1")
    except Exception as exc:  # noqa: BLE001 - any failure to connect means the same here
        server.dispose()
        pytest.skip(f"MariaDB not reachable at {MARIADB_URL}: {type(exc).__name__}")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with server.begin() as conn:
        conn.exec_driver_sql(f"create database {name}")
    engine = sa.create_engine(server.url.set(database=name))
    try:
        yield engine, name
    finally:
        engine.dispose()
        with server.begin() as conn:
            conn.exec_driver_sql(f"drop database if exists {name}")
        server.dispose()
