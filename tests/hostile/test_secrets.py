"""Secrets: API keys and passwords come from the environment or a file only, and never leave the process.

A whole session runs as real CLI processes against a stand-in site (tests/support/canary_site.py: Mockgun that holds
the key like a real connection, and can fail the way careless dependencies do) with recognisable canary
secrets: ``schema dump``, ``build``, ``load`` (key from env, then from a file, a user password, -vv, into
DuckDB and into PostgreSQL with a password in the URL), ``dump``, ``diff``, ``init-db`` and ``migrate``, and forced
failures (missing key file, wrong key, a site that logs and raises the key, unreachable databases). Then
every byte a run produced is scanned: stdout, stderr, and every file under the run's directory (schema,
dbt project, dump files, logs, database files).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sg2dbt.schema.connect import CredentialsError, connect, credentials
from tests.conftest import PG_URL, REAL_ENTITY_PICKLE, REAL_SCHEMA_PICKLE, REPO

KEY = "sk-SECRET-CANARY-1234"
WRONG_KEY = "sk-SECRET-CANARY-WRONG-5678"
PG_PASSWORD = "PGPASS-SECRET-CANARY-4321"
BASIC_PASSWORD = "BASIC-SECRET-CANARY-8765"        # in SG_URL: https://etl:<this>@site (HTTP basic auth)
QUERY_PASSWORD = "QUERY-SECRET-CANARY-2468"        # postgresql://...?password=<this>
AT_HALVES = ("ATPW-SECRETHALF", "CANARYHALF-1357")  # a password with an unescaped '@' between the halves
# shotgun_api3 sends basic auth as this header, which its debug log prints
BASIC_HEADER = __import__("base64").b64encode(f"etl:{BASIC_PASSWORD}".encode()).decode()
CANARIES = (KEY, WRONG_KEY, PG_PASSWORD, "SECRET-CANARY", BASIC_PASSWORD, QUERY_PASSWORD, *AT_HALVES, BASIC_HEADER)
LAUNCHER = REPO / "tests" / "support" / "canary_site.py"
ONLY = ["--only", "Project", "--only", "Shot", "--only", "Asset"]


@dataclass
class Run:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Session:
    root: Path
    runs: list[Run] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SG_", "CANARY_", "SG2DBT_DB"))}
        return {**env, "SG_URL": "https://canary.example.com", "SG_SCRIPT": "canary", "CANARY_SITE_KEY": KEY,
                "PYTHONDONTWRITEBYTECODE": "1", **extra}

    def run(self, *argv: str, **env: str) -> Run:
        proc = subprocess.run([sys.executable, str(LAUNCHER), *argv], capture_output=True, text=True,
                              timeout=300, cwd=self.root, env=self.env(**env))
        run = Run(list(argv), proc.returncode, proc.stdout, proc.stderr)
        self.runs.append(run)
        return run


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    if not (REAL_SCHEMA_PICKLE.is_file() and REAL_ENTITY_PICKLE.is_file()):
        pytest.skip(f"Mockgun schema pickles not found beside {REAL_SCHEMA_PICKLE}")
    s = Session(tmp_path_factory.mktemp("secrets"))
    yield s


@pytest.fixture(scope="module")
def full_run(session: Session) -> Session:
    """Every command of a nightly job, successful ones first, each checked for success."""
    root = session.root
    key_file = root / "secrets" / "sg_api_key"
    key_file.parent.mkdir()
    key_file.write_text(KEY + "\n", encoding="utf-8")
    ok = [
        session.run("-vv", "schema", "dump", "--out", "schema.json", SG_API_KEY=KEY),
        session.run("-vv", "build", "--schema", "schema.json", "--out", "project", *ONLY, SG_API_KEY=KEY),
        session.run("-vv", "load", "--schema", "schema.json", *ONLY, "--db", f"duckdb:///{root / 'wh.duckdb'}",
                    "--workers", "2", SG_API_KEY=KEY),
        session.run("-vv", "load", "--schema", "schema.json", *ONLY, "--db", f"duckdb:///{root / 'wh.duckdb'}",
                    "--json", "--api-key-file", str(key_file)),
        session.run("-vv", "load", "--schema", "schema.json", *ONLY, "--db", f"sqlite:///{root / 'wh.db'}",
                    SG_API_KEY_FILE=str(key_file)),
        session.run("-vv", "dump", "--schema", "schema.json", *ONLY, "--out", "dump", SG_API_KEY=KEY),
        session.run("-vv", "diff", "schema.json", SG_API_KEY=KEY),   # the file against the live site
        # a user login instead of a script: the password is the secret
        session.run("-vv", "load", "--schema", "schema.json", *ONLY, "--db", f"sqlite:///{root / 'wh2.db'}",
                    SG_SCRIPT="", SG_LOGIN="td", SG_PASSWORD=KEY),
        # a site URL with basic auth (a proxy in front of the site): the URL's password is a secret too
        session.run("-vv", "load", "--schema", "schema.json", *ONLY, "--db", f"sqlite:///{root / 'wh3.db'}",
                    "--json", SG_API_KEY=KEY, SG_URL=f"https://etl:{BASIC_PASSWORD}@canary.example.com"),
    ]
    for run in ok:
        assert run.returncode == 0, (run.argv, run.stderr[-2000:])
    return session


def failed(run: Run) -> str:
    assert run.returncode == 2, (run.argv, run.returncode, run.stderr[-2000:])
    assert "Traceback" not in run.stderr
    return run.stderr


def test_loaded_rows_arrive(full_run: Session) -> None:
    """The runs really talked to the site with the key: rows are in DuckDB, SQLite and the dump."""
    import duckdb

    con = duckdb.connect(str(full_run.root / "wh.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from shotgrid_raw.shot").fetchone() == (30,)
    finally:
        con.close()
    assert len((full_run.root / "dump" / "Shot.jsonl").read_text(encoding="utf-8").splitlines()) == 30
    assert (full_run.root / "project" / "dbt_project.yml").is_file()


def test_missing_key_file_fails_without_the_key(full_run: Session) -> None:
    err = failed(full_run.run("-vv", "load", "--schema", "schema.json", *ONLY, "--db", "sqlite:///x.db",
                              "--api-key-file", str(full_run.root / "no" / "such" / "key"), SG_API_KEY=KEY))
    assert "API key file" in err


def test_wrong_key_fails_without_the_key(full_run: Session) -> None:
    err = failed(full_run.run("-vv", "load", "--schema", "schema.json", *ONLY, "--db", "sqlite:///x.db",
                              SG_API_KEY=WRONG_KEY))
    assert "authentication failed" in err.lower() or "cannot connect" in err.lower()
    err = failed(full_run.run("-vv", "schema", "dump", "--out", "again.json", SG_API_KEY=WRONG_KEY))
    assert not (full_run.root / "again.json").exists()


def test_site_that_logs_and_raises_the_key_is_redacted(full_run: Session) -> None:
    run = full_run.run("-vv", "load", "--schema", "schema.json", *ONLY, "--db", "sqlite:///x2.db",
                       SG_API_KEY=KEY, CANARY_SITE_FAIL="1")
    failed(run)
    assert "rpc params" in run.stderr  # the dependency's debug line was printed , with the key masked
    failed(full_run.run("-vv", "schema", "dump", "--out", "again.json", SG_API_KEY=KEY, CANARY_SITE_FAIL="1"))


def test_key_is_not_accepted_as_a_flag(full_run: Session) -> None:
    run = full_run.run("load", "--schema", "schema.json", "--db", "sqlite:///x.db", "--api-key", KEY)
    assert run.returncode != 0
    for command in (["load"], ["dump"], ["schema", "dump"]):
        help_text = full_run.run(*command, "--help").stdout
        assert "--api-key-file" in help_text and "--api-key " not in help_text and "--password " not in help_text


@pytest.mark.postgres
def test_database_password_in_the_url_is_not_shown(full_run: Session, pg_engine: object, pg_schema: str) -> None:
    """PostgreSQL here trusts local connections, so a URL with any password works: a canary password."""
    url = PG_URL.replace("postgres@", f"postgres:{PG_PASSWORD}@", 1)
    assert PG_PASSWORD in url
    run = full_run.run("-vv", "load", "--schema", "schema.json", *ONLY, "--db", url, "--raw-schema", pg_schema,
                       SG_API_KEY=KEY)
    assert run.returncode == 0, run.stderr[-2000:]
    bad_port = url.replace(":5432/", ":1/", 1)
    failed(full_run.run("-vv", "load", "--schema", "schema.json", *ONLY, "--db", bad_port, SG_API_KEY=KEY))
    not_a_port = url.replace(":5432/", ":notaport/", 1)
    failed(full_run.run("-vv", "load", "--schema", "schema.json", *ONLY, SG_API_KEY=KEY, SG2DBT_DB=not_a_port))
    failed(full_run.run("-vv", "init-db", "--schema", "schema.json", *ONLY, "--db", not_a_port))
    failed(full_run.run("-vv", "init-db", "--schema", "schema.json", *ONLY, "--db", bad_port))
    failed(full_run.run("-vv", "migrate", "--schema", "schema.json", *ONLY, "--db", not_a_port))


@pytest.mark.postgres
def test_every_database_url_form_keeps_its_password(full_run: Session, pg_engine: object, pg_schema: str) -> None:
    """A URL without a host (socket or ``?host=``), a password as a query parameter, and an unescaped '@'."""
    base = PG_URL.split("://", 1)[1].split("@", 1)[1]            # 127.0.0.1:5432/db
    host, _, database = base.partition("/")
    hostname, _, port = host.partition(":")
    no_host = f"postgresql+psycopg://postgres:{PG_PASSWORD}@/{database}?host={hostname}&port={port}"
    in_query = f"postgresql+psycopg://postgres@{host}/{database}?password={QUERY_PASSWORD}"
    load = ("-vv", "load", "--schema", "schema.json", *ONLY, "--raw-schema", pg_schema, "--json")
    for url in (no_host, in_query):
        run = full_run.run(*load, "--db", url, SG_API_KEY=KEY)
        assert run.returncode == 0, run.stderr[-2000:]
        unreachable = url.replace(f"port={port}", "port=1") if url is no_host else url.replace(f":{port}/", ":1/")
        for command in (load, ("-vv", "init-db", "--schema", "schema.json", *ONLY),
                        ("-vv", "migrate", "--schema", "schema.json", *ONLY)):
            failed(full_run.run(*command, "--db", unreachable, SG_API_KEY=KEY))
    at_url = f"postgresql+psycopg://postgres:{AT_HALVES[0]}@{AT_HALVES[1]}@{host}/{database}"
    for command in (load, ("-vv", "init-db", "--schema", "schema.json", *ONLY),
                    ("-vv", "migrate", "--schema", "schema.json", *ONLY)):
        err = failed(full_run.run(*command, "--db", at_url, SG_API_KEY=KEY))
        assert "unescaped '@'" in err and "%40" in err, err
    err = failed(full_run.run(*load, "--db", f"sqlite:///{full_run.root / 'x3.db'}", SG_API_KEY=KEY,
                              SG_URL=f"https://etl:{AT_HALVES[0]}@{AT_HALVES[1]}@canary.example.com"))
    assert "site URL holds an unescaped '@'" in err, err


def test_basic_auth_header_is_redacted_from_the_debug_log(full_run: Session) -> None:
    """The real shotgun_api3 against the HTTP stand-in site: at -vv it logs its request headers, which carry
    ``Authorization: Basic <user:password in base64>``."""
    from tests.support.canary_site import _site
    from tests.support.sgserver import StandInSite, serve

    site = StandInSite(_site(), script="canary", key=KEY)
    with serve(site) as url:
        proc = subprocess.run(
            [sys.executable, "-c", "from sg2dbt.cli import main; main()", "-vv", "load", "--schema", "schema.json",
             "--only", "Shot", "--db", f"sqlite:///{full_run.root / 'basic.db'}", "--json"],
            capture_output=True, text=True, timeout=300, cwd=full_run.root,
            env=full_run.env(SG_URL=url.replace("http://", f"http://etl:{BASIC_PASSWORD}@"), SG_API_KEY=KEY))
    full_run.runs.append(Run(["basic-auth load"], proc.returncode, proc.stdout, proc.stderr))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Request headers are" in proc.stderr and "'Authorization': 'Basic ***'" in proc.stderr
    assert "etl:***@127.0.0.1" in proc.stdout   # the --json summary names the site, password masked


def _scan(session: Session) -> list[str]:
    leaks = []
    for run in session.runs:
        for stream, text in (("stdout", run.stdout), ("stderr", run.stderr)):
            leaks += [f"{run.argv} {stream}: {c}" for c in CANARIES if c in text]
    key_file = session.root / "secrets" / "sg_api_key"
    for path in session.root.rglob("*"):
        if path.is_file() and path != key_file:
            data = path.read_bytes()
            leaks += [f"{path.relative_to(session.root)}: {c}" for c in CANARIES if c.encode() in data]
    return leaks


def test_zz_every_output_of_every_run_is_free_of_secrets(full_run: Session) -> None:
    """Runs last (module order): scans the outputs of every run above, failing ones included."""
    assert len(full_run.runs) >= 10
    assert _scan(full_run) == []


# --- in-process: the credential objects themselves ----------------------------------------------------

def test_credentials_repr_and_errors_hold_no_secret(tmp_path: Path) -> None:
    creds = credentials(env={"SG_URL": "https://x.example.com", "SG_SCRIPT": "s", "SG_API_KEY": KEY})
    assert creds.api_key == KEY
    assert KEY not in repr(creds) and KEY not in str(creds) and KEY not in creds.label
    user = credentials(env={"SG_URL": "https://x.example.com", "SG_LOGIN": "me", "SG_PASSWORD": PG_PASSWORD})
    assert PG_PASSWORD not in repr(user) and PG_PASSWORD not in user.label
    with pytest.raises(CredentialsError) as info:
        credentials(env={"SG_URL": "https://x.example.com", "SG_SCRIPT": "s"})
    assert "SG_API_KEY" in str(info.value)
    empty = tmp_path / "empty"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(CredentialsError, match="empty"):
        credentials(api_key_file=str(empty), env={"SG_URL": "https://x", "SG_SCRIPT": "s", "SG_API_KEY": KEY})


def test_connect_failure_message_holds_no_secret() -> None:
    creds = credentials(env={"SG_URL": "ftp://canary.example.com", "SG_SCRIPT": "s", "SG_API_KEY": KEY})
    with pytest.raises(CredentialsError) as info:
        connect(creds)
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    assert info.value.__suppress_context__  # raised "from None": no chained dependency error to print
