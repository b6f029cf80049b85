"""Secrets never leave the process: a registry of every secret seen, and redaction of all output.

A secret is registered the moment it is read: the SG API key or password (``sg2dbt.schema.connect``), the
password of a site URL with basic auth (``https://user:pass@site``, and the ``Authorization: Basic ...``
header shotgun_api3 builds from it), and every password in a database URL (``user:pass@host``, a URL
without a host such as ``postgresql://user:pass@/db?host=/run/postgresql``, and query parameters such as
``?password=``). Every line sg2dbt prints passes through :func:`redact`: log records (a filter on the CLI's
log handler, dependencies' loggers included), error lines and the ``--json`` summary.

A URL whose user part holds an unescaped ``@`` is refused before it is used: parsers disagree where the
host starts (SQLAlchemy takes the text after the first ``@`` as the host, and the driver's error would
then print the rest of the password as a host name).
"""

from __future__ import annotations

import base64
import logging
import threading
import urllib.parse
from typing import TYPE_CHECKING

from sg2dbt.core.errors import Sg2dbtError, first_line

if TYPE_CHECKING:
    import sqlalchemy as sa

MASK = "***"
MIN_LENGTH = 4   # shorter strings would mask ordinary words; no real password or key is this short
# query parameters of a database URL that carry a secret (libpq, psycopg, PyMySQL, DuckDB's motherduck_token)
SECRET_QUERY_KEYS = frozenset({"password", "passwd", "pwd", "sslpassword", "secret", "token", "api_key",
                               "motherduck_token", "access_token", "passfile_password"})

_SECRETS: set[str] = set()
_LOCK = threading.Lock()


class URLSecretError(Sg2dbtError):
    """A URL that cannot be used without risking its password (an unescaped ``@``)."""


def register_secret(secret: str | None) -> None:
    """Remember ``secret`` (and the forms it takes in a URL) so :func:`redact` masks it everywhere."""
    if not secret or len(secret) < MIN_LENGTH:
        return
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret, safe="")}
    with _LOCK:
        _SECRETS.update(f for f in forms if len(f) >= MIN_LENGTH)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***`` (longest first, so no part of one remains)."""
    if not _SECRETS:
        return text
    with _LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redacted_first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of ``exc``'s message, redacted and cut to ``limit`` characters: site and database errors
    become one-line messages, and a dependency's message may repeat a request or DSN that carried a secret."""
    return first_line(redact(str(exc)), limit)


class RedactingFilter(logging.Filter):
    """Rewrites log records so a registered secret never reaches a handler (dependencies log too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            message = record.getMessage()
            clean = redact(message)
            if clean != message or record.exc_info:
                record.msg, record.args = clean, None
                if record.exc_info:
                    record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
                    record.exc_info = None
        return True


def add_redaction(handler: logging.Handler) -> None:
    """Attach :class:`RedactingFilter` to ``handler`` (once)."""
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())


def _refuse_unescaped_at(userinfo: str, what: str) -> None:
    if "@" in userinfo:
        raise URLSecretError(f"the {what} holds an unescaped '@' before the host: write '@' in a user name or "
                             f"password as %40 (the URL is not shown: it holds a password)")


def site_url(url: str) -> str:
    """Register the secrets of a site URL (``https://user:pass@site``) and return it with the password masked.

    shotgun_api3 turns the user part into an ``Authorization: Basic`` header, which its debug log prints:
    the header's value is registered too.
    """
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    _refuse_unescaped_at(userinfo, "site URL")
    user, colon, password = userinfo.partition(":")
    if not colon:
        return url
    for form in (password, urllib.parse.unquote(password)):
        register_secret(form)
    header = base64.encodebytes(urllib.parse.unquote(userinfo).encode("utf-8")).decode("ascii")
    register_secret(header.strip())
    for piece in header.split():   # encodebytes wraps long values at 76 characters
        register_secret(piece)
    register_secret("".join(header.split()))
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def database_url(url: sa.URL) -> None:
    """Register every secret of a parsed database URL; refuse one whose host shows an unescaped ``@``."""
    if url.host and "@" in url.host:
        _refuse_unescaped_at(url.host, "database URL")
    register_secret(url.password if isinstance(url.password, str) else None)
    for key, value in url.query.items():
        if key.lower() in SECRET_QUERY_KEYS:
            for item in (value,) if isinstance(value, str) else value:
                register_secret(item)


def display_database_url(url: sa.URL) -> str:
    """``url`` as text with its password and secret query parameters masked."""
    query = {k: (MASK if k.lower() in SECRET_QUERY_KEYS else v) for k, v in url.query.items()}
    return redact(url.set(query=query).render_as_string(hide_password=True))
