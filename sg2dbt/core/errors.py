"""The project's own error types.

Every failure a user can cause (a bad schema file, a name that cannot be mapped, a value that does not fit)
surfaces as an :class:`Sg2dbtError`, so the CLI can print one clear line instead of a dependency's traceback.
"""

from __future__ import annotations


def first_line(message: BaseException | str, limit: int = 300) -> str:
    """The first line of an error message, cut to ``limit`` characters ("" for an empty one): drivers' and
    the site's messages run on over many lines of context, and the CLI prints one line."""
    text = str(message).strip()
    return text.splitlines()[0][:limit] if text else ""


class Sg2dbtError(Exception):
    """Base class: the CLI prints these as one line and exits non-zero."""


class SchemaError(Sg2dbtError):
    """A schema source is missing, unreadable or structurally wrong.

    The message always names where the problem is: the source (file or site), and the entity and field
    when the problem is inside one.
    """

    def __init__(self, message: str, *, source: str | None = None, entity: str | None = None,
                 field: str | None = None) -> None:
        self.source = source
        self.entity = entity
        self.field = field
        where = []
        if source:
            where.append(source)
        if entity is not None:
            where.append(f"entity {entity!r}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class NamingError(Sg2dbtError):
    """Two SG names map onto the same database identifier and no deterministic rule can separate them."""


class LoadError(Sg2dbtError):
    """The loader could not finish an entity: a site or database failure, or bad credentials."""


class ValueFitError(LoadError):
    """A record's value does not fit its raw column. Names the entity, record id and field."""

    def __init__(self, entity: str, record_id: object, field: str, detail: str) -> None:
        self.entity = entity
        self.record_id = record_id
        self.field = field
        super().__init__(f"entity {entity!r}, id {record_id!r}, field {field!r}: {detail}")


class ProjectError(Sg2dbtError):
    """A dbt project cannot be generated as asked: a bad option, or a file sg2dbt did not write is in the way."""


class MigrationError(Sg2dbtError):
    """A migration of the raw tables was refused or failed; nothing was changed by the failing step."""


class DriftError(Sg2dbtError):
    """The database's raw tables do not match the schema; the message names the command that fixes it."""
