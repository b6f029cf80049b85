"""The project config file, ``sg2dbt.yml``: one place for the site, the warehouse, the selection and policies.

Every command reads it (from the working directory, or the file given by ``sg2dbt --config`` /
``SG2DBT_CONFIG``); a flag or an environment variable overrides it (flag > environment > file > default),
so a cron line or a systemd unit needs no flags at all. ``${VAR}`` (and ``${VAR:-default}``) in any string is
replaced from the environment when the file is read; ``$${`` is a literal ``${``.

Secrets never live in the file: the site's API key or password is named by the environment variable that
holds it (``api_key_env``) or by a file (``api_key_file``). A key called ``api_key`` or ``password`` is
refused, as is any key the file format does not know (a typo would otherwise be ignored silently). Relative
paths are resolved against the config file's directory, so the file means the same from any working
directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

from sg2dbt.core.errors import Sg2dbtError
from sg2dbt.core.layout import DEFAULT_RAW_SCHEMA

CONFIG_NAME = "sg2dbt.yml"
CONFIG_ENV = "SG2DBT_CONFIG"


class ConfigError(Sg2dbtError):
    """The config file cannot be read or holds a bad value; the message names the file and the key."""


@dataclass(frozen=True)
class SiteConfig:
    """The live site. Secrets are named, never held: the key comes from ``$api_key_env`` or ``api_key_file``."""

    url: str | None = None
    script: str | None = None
    api_key_env: str | None = None
    api_key_file: Path | None = None
    login: str | None = None
    password_env: str | None = None
    password_file: Path | None = None


@dataclass(frozen=True)
class WarehouseConfig:
    url: str | None = None          # SQLAlchemy URL (SG2DBT_DB overrides it)
    raw_schema: str = DEFAULT_RAW_SCHEMA


@dataclass(frozen=True)
class DbtConfig:
    project_dir: Path | None = None
    adapter: str = "duckdb"


@dataclass(frozen=True)
class SelectionConfig:
    """Which entities and fields are loaded: ``entities`` (empty: all), then the two ignore lists."""

    entities: tuple[str, ...] = ()
    ignored_entities: tuple[str, ...] = ()
    ignored_fields: tuple[str, ...] = ()   # 'field' on every entity, or 'Entity.field'


@dataclass(frozen=True)
class SchemaChangesConfig:
    """What ``sync`` does when the site drops a field or entity: ``keep`` the column (never filled again) or
    ``drop`` it. Additive changes are always applied."""

    removed: Literal["keep", "drop"] = "keep"


@dataclass(frozen=True)
class SyncConfig:
    interval: float = 5.0           # seconds between event-log polls in --watch (sgcache polls every 5 s)
    scan_interval: float = 300.0    # seconds between updated_at safety scans
    lock_timeout: float = 60.0      # seconds to wait for another sync's warehouse lock before giving up
    workers: int = 4
    dbt_build: Literal["changed", "all", "none"] = "changed"


@dataclass(frozen=True)
class Config:
    """The whole file. ``path`` is the file it was read from (None when there was none: all defaults)."""

    site: SiteConfig = field(default_factory=SiteConfig)
    warehouse: WarehouseConfig = field(default_factory=WarehouseConfig)
    schema_file: Path | None = None
    dbt: DbtConfig = field(default_factory=DbtConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    schema_changes: SchemaChangesConfig = field(default_factory=SchemaChangesConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    path: Path | None = None


# Keys that would put a secret into the file, and the key to use instead.
_SECRET_KEYS = {"api_key": "api_key_env or api_key_file", "password": "password_env or password_file",
                "key": "api_key_env or api_key_file", "secret": "api_key_env or api_key_file"}
_ENV_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def find_config(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    """The config file to read: ``path``, else ``$SG2DBT_CONFIG``, else ``./sg2dbt.yml`` if it exists.

    A file named explicitly (argument or variable) must exist; the working directory's is optional.
    """
    env = os.environ if env is None else env
    named = path if path is not None else env.get(CONFIG_ENV) or None
    if named is not None:
        named = Path(named)
        if not named.is_file():
            raise ConfigError(f"{named}: config file not found")
        return named
    local = Path(CONFIG_NAME)
    return local if local.is_file() else None


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """The config from ``path`` (or the file :func:`find_config` finds); no file gives the defaults."""
    env = os.environ if env is None else env
    found = find_config(path, env)
    if found is None:
        return Config()
    import yaml

    try:
        doc = yaml.safe_load(found.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{found}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{found}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{found}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    if doc is None:
        doc = {}
    config: Config = _Reader(found, env).section(Config, doc, "")
    from sg2dbt.emit.project.options import ADAPTERS

    if config.dbt.adapter not in ADAPTERS:
        raise ConfigError(f"{found}: dbt.adapter: {config.dbt.adapter!r} is not one of {', '.join(ADAPTERS)}")
    reader_base = found.resolve().parent
    warehouse = replace(config.warehouse, url=_anchor_file_url(config.warehouse.url, reader_base))
    return replace(config, warehouse=warehouse, path=found)


_FILE_URL = re.compile(r"^(?P<scheme>(?:duckdb|sqlite)(?:\+\w+)?:///)(?P<path>[^/?][^?]*)(?P<query>\?.*)?$")


def _anchor_file_url(url: str | None, base: Path) -> str | None:
    """A DuckDB or SQLite URL with a relative path, made absolute against the config file's directory (the
    drivers would read it against the working directory, which differs between cron and a shell)."""
    match = _FILE_URL.match(url or "")
    if not match or match["path"] == ":memory:":
        return url
    return f"{match['scheme']}{(base / match['path']).as_posix()}{match['query'] or ''}"


class _Reader:
    """Turns the parsed YAML into the dataclasses, checking each key's type and naming ``file: key`` on error."""

    def __init__(self, path: Path, env: Mapping[str, str]) -> None:
        self.path = path
        self.env = env
        self.base = path.resolve().parent

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {message}" if key else f"{self.path}: {message}")

    def section(self, cls: Any, value: Any, prefix: str) -> Any:
        if not isinstance(value, dict):
            raise self.fail(prefix, f"expected a mapping of keys, got {_kind(value)}")
        hints = get_type_hints(cls)
        known = {f.name for f in fields(cls)} - ({"path"} if cls is Config else set())
        values: dict[str, Any] = {}
        for key, raw in value.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key in _SECRET_KEYS:
                raise self.fail(name, f"secrets never go into the config file: use {_SECRET_KEYS[key]} "
                                      f"(the name of an environment variable, or a file holding it)")
            if key not in known:
                raise self.fail(name, f"unknown key (known here: {', '.join(sorted(known))})")
            values[key] = self.value(hints[key], raw, name)
        return cls(**values)

    def value(self, hint: Any, raw: Any, name: str) -> Any:
        if is_dataclass(hint):
            return self.section(hint, {} if raw is None else raw, name)
        args = get_args(hint)
        if get_origin(hint) is not None and type(None) in args:   # X | None
            if raw is None:
                return None
            hint = next(a for a in args if a is not type(None))
            args = get_args(hint)
        origin = get_origin(hint)
        if origin is Literal:
            text = self.text(raw, name)
            if text not in args:
                raise self.fail(name, f"{text!r} is not one of {', '.join(map(repr, args))}")
            return text
        if origin is tuple:
            items = [raw] if isinstance(raw, str) else raw
            if items is None:
                return ()
            if not isinstance(items, list):
                raise self.fail(name, f"expected a list of names, got {_kind(raw)}")
            return tuple(self.text(item, f"{name}[{i}]") for i, item in enumerate(items))
        if hint is Path:
            return self.base / Path(self.text(raw, name)).expanduser()
        if hint is str:
            return self.text(raw, name)
        if hint is int or hint is float:
            return self.number(hint, raw, name)
        raise TypeError(f"config field {name} has an unsupported type {hint!r}")   # a bug here, not the user's

    def text(self, raw: Any, name: str) -> str:
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            raise self.fail(name, f"expected text, got {_kind(raw)}")
        return self.interpolate(str(raw), name)

    def number(self, kind: type, raw: Any, name: str) -> Any:
        if isinstance(raw, str):
            raw = self.interpolate(raw, name)
        try:
            if isinstance(raw, bool):
                raise ValueError
            number = kind(raw)
            if kind is int and number != float(raw):
                raise ValueError
        except (TypeError, ValueError):
            raise self.fail(name, f"expected {'a whole number' if kind is int else 'a number'}, "
                                  f"got {raw!r}") from None
        if number < 0 or (kind is int and number < 1):
            raise self.fail(name, f"must be {'at least 1' if kind is int else 'zero or more'}, got {raw!r}")
        return number

    def interpolate(self, text: str, name: str) -> str:
        def sub(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            var, default = match.group(1), match.group(2)
            if var in self.env and self.env[var] != "":
                return self.env[var]
            if default is not None:
                return default
            raise self.fail(name, f"${{{var}}} is not set in the environment (give a default: ${{{var}:-...}})")

        return _ENV_REF.sub(sub, text)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}.get(type(value),
                                                                                   type(value).__name__)
