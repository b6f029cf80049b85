"""sg2dbt.yml: what `sg2dbt init` writes parses, values reach every command, flags and env override it, bad
input names the file and key, secrets are refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from sg2dbt.config import Config, ConfigError, load_config

CLI = Callable[..., tuple[int, str, str]]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sg2dbt.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_gives_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SG2DBT_CONFIG", raising=False)
    assert load_config() == Config()
    assert Config().sync.interval == 5 and Config().sync.scan_interval == 300 and Config().sync.lock_timeout == 60
    assert Config().schema_changes.removed == "keep" and Config().sync.dbt_build == "changed"


def test_init_writes_a_file_that_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: CLI) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("SG_URL", "SG_SCRIPT", "SG2DBT_DB", "SG2DBT_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    code, _, err = cli("init")
    assert code == 0, err
    text = (tmp_path / "sg2dbt.yml").read_text(encoding="utf-8")
    assert text.count("#") > 20                     # commented
    config = load_config()
    assert config.path == Path("sg2dbt.yml")
    assert config.site.api_key_env == "SG_API_KEY" and config.site.script == "sg2dbt"
    assert config.warehouse.url == f"duckdb:///{tmp_path.resolve().as_posix()}/warehouse.duckdb"
    assert config.schema_file == tmp_path.resolve() / "schema.json"
    assert config.dbt.project_dir == tmp_path.resolve() / "analytics"
    assert config.selection.ignored_entities == ("AppWelcome", "Banner")
    assert config.sync == Config().sync and config.schema_changes == Config().schema_changes
    code, _, err = cli("init")
    assert code == 2 and "exists" in err and "--force" in err
    assert (tmp_path / "sg2dbt.yml").read_text(encoding="utf-8") == text
    assert cli("init", "--force")[0] == 0


def test_env_interpolation(tmp_path: Path) -> None:
    path = write(tmp_path, "site:\n  url: https://${STUDIO}.example.com\n  script: ${SCRIPT:-etl}\n"
                           "warehouse:\n  url: postgresql://u@h/${DB}\n  raw_schema: raw$${x}\n"
                           "sync:\n  interval: ${POLL}\n")
    config = load_config(path, env={"STUDIO": "acme", "DB": "wh", "POLL": "2.5"})
    assert config.site.url == "https://acme.example.com" and config.site.script == "etl"
    assert config.warehouse.url == "postgresql://u@h/wh" and config.warehouse.raw_schema == "raw${x}"
    assert config.sync.interval == 2.5
    with pytest.raises(ConfigError, match=r"sg2dbt.yml: warehouse.url: \$\{DB\} is not set"):
        load_config(path, env={"STUDIO": "acme", "POLL": "1"})


@pytest.mark.parametrize(("text", "message"), [
    ("site:\n  api_key: abc123\n", r"site.api_key: secrets never go into the config file: use api_key_env"),
    ("site:\n  password: hunter2\n", r"site.password: secrets never go into the config file"),
    ("warehous:\n  url: x\n", r"warehous: unknown key"),
    ("sync:\n  intervall: 3\n", r"sync.intervall: unknown key"),
    ("sync:\n  interval: soon\n", r"sync.interval: expected a number, got 'soon'"),
    ("sync:\n  workers: 2.5\n", r"sync.workers: expected a whole number"),
    ("sync:\n  workers: 0\n", r"sync.workers: must be at least 1"),
    ("sync:\n  dbt_build: some\n", r"sync.dbt_build: 'some' is not one of 'changed', 'all', 'none'"),
    ("schema_changes:\n  removed: delete\n", r"schema_changes.removed: 'delete' is not one of 'keep', 'drop'"),
    ("dbt:\n  adapter: oracle\n", r"dbt.adapter: 'oracle' is not one of"),
    ("selection:\n  entities: {Shot: 1}\n", r"selection.entities: expected a list"),
    ("selection:\n  entities: [Shot, [x]]\n", r"selection.entities\[1\]: expected text"),
    ("site: [1]\n", r"site: expected a mapping"),
    ("- a\n", r"expected a mapping"),
    ("site:\n  url: [unclosed\n", r"not valid YAML \(line"),
])
def test_bad_input_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path, env={})
    assert str(info.value).startswith(str(path))


def test_named_file_must_exist(tmp_path: Path, cli: CLI) -> None:
    code, _, err = cli("--config", str(tmp_path / "nope.yml"), "ddl")
    assert code == 2 and "nope.yml: config file not found" in err


def test_a_single_name_is_a_list(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "selection:\n  entities: Shot\n  ignored_fields: [code, Shot.sg_x]\n"), env={})
    assert config.selection.entities == ("Shot",) and config.selection.ignored_fields == ("code", "Shot.sg_x")


def studio_config(tmp_path: Path, real_schema_path: Path, db: Path) -> Path:
    return write(tmp_path, f"schema_file: {real_schema_path}\nwarehouse:\n  url: sqlite:///{db.name}\n"
                           f"  raw_schema: ''\nselection:\n  entities: [Shot, Project]\n"
                           f"  ignored_fields: [Shot.code]\n")


def test_commands_read_the_config(tmp_path: Path, real_schema_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  cli: CLI) -> None:
    """init-db with no flags at all: schema file, selection, warehouse URL (relative to the file) from it."""
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for var in ("SG2DBT_DB", "SG2DBT_RAW_SCHEMA", "SG2DBT_SCHEMA_FILE"):
        monkeypatch.delenv(var, raising=False)
    config = studio_config(tmp_path, real_schema_path, tmp_path / "wh.db")
    code, _, err = cli("--config", str(config), "init-db")
    assert code == 0, err
    con = sqlite3.connect(tmp_path / "wh.db")
    tables = {r[0] for r in con.execute("select name from sqlite_master where type = 'table'")}
    columns = {r[1] for r in con.execute("pragma table_info(shot)")}
    con.close()
    assert tables == {"shot", "project"}
    assert "code" not in columns and "sg_sequence_id" in columns
    code, out, err = cli("--config", str(config), "ddl", "--dialect", "postgresql")
    assert code == 0, err
    assert out.count("CREATE TABLE") == 2 and "CREATE SCHEMA" not in out   # raw_schema '' from the file


def test_env_and_flags_override_the_config(tmp_path: Path, real_schema_path: Path,
                                           monkeypatch: pytest.MonkeyPatch, cli: CLI) -> None:
    monkeypatch.chdir(tmp_path)
    studio_config(tmp_path, real_schema_path, tmp_path / "from_file.db")
    monkeypatch.setenv("SG2DBT_DB", f"sqlite:///{tmp_path / 'from_env.db'}")
    assert cli("init-db")[0] == 0
    assert (tmp_path / "from_env.db").exists() and not (tmp_path / "from_file.db").exists()
    assert cli("init-db", "--db", f"sqlite:///{tmp_path / 'from_flag.db'}", "--only", "Asset")[0] == 0
    con = sqlite3.connect(tmp_path / "from_flag.db")
    assert [r[0] for r in con.execute("select name from sqlite_master where type = 'table'")] == ["asset"]
    con.close()


def test_help_marks_required_only_when_nothing_gives_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        cli: CLI) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SG2DBT_DB", raising=False)
    monkeypatch.delenv("SG2DBT_CONFIG", raising=False)
    _, out, _ = cli("init-db", "--help")
    db_help = out[out.index("--db"):out.index("--raw-schema")]
    assert "env var: SG2DBT_DB" in db_help and "required" in db_help
    monkeypatch.setenv("SG2DBT_DB", "sqlite://")
    _, out, _ = cli("init-db", "--help")
    assert "required" not in out[out.index("--db"):out.index("--raw-schema")]
    monkeypatch.delenv("SG2DBT_DB")
    code, _, err = cli("init-db", "--schema", "x.json")
    assert code == 2 and "missing --db: give it, set SG2DBT_DB, or set warehouse.url in sg2dbt.yml" in err


def test_verbosity_after_the_subcommand(tmp_path: Path, real_schema_path: Path, cli: CLI) -> None:
    for args in (["-v", "ddl"], ["ddl", "-v"], ["ddl", "-vv"], ["ddl", "-q"], ["-q", "ddl", "-v"]):
        code, _, err = cli(*args, "--schema", str(real_schema_path), "--only", "Shot")
        assert code == 0, (args, err)


def test_dbt_model_schema_variable_is_not_a_schema_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         cli: CLI) -> None:
    """SG2DBT_SCHEMA names the dbt models' schema (profiles.yml reads it): --schema's variable is another."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SG2DBT_SCHEMA", "analytics")
    monkeypatch.delenv("SG2DBT_SCHEMA_FILE", raising=False)
    monkeypatch.delenv("SG2DBT_CONFIG", raising=False)
    code, _, err = cli("ddl")
    assert code == 2 and "missing --schema: give it, set SG2DBT_SCHEMA_FILE, or set schema_file in sg2dbt.yml" in err
