"""Credentials for a live SG site, and the connection made from them.

Secrets (an API key, a password) come from the environment (``SG_API_KEY``, ``SG_PASSWORD``) or from a file
(``--api-key-file``/``SG_API_KEY_FILE``, ``--password-file``/``SG_PASSWORD_FILE``), never from a command-line
flag, where ``ps`` and shell history would show them. They are kept out of ``repr``, registered with
:func:`sg2dbt.core.secrets.redact` so no log line or error message can carry them, and never written anywhere.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sg2dbt.core.errors import Sg2dbtError
from sg2dbt.core.secrets import add_redaction, redacted_first_line, register_secret, site_url
from sg2dbt.schema import replies


class CredentialsError(Sg2dbtError):
    """Missing, unreadable or rejected site credentials (the message never holds a secret)."""


def install_log_redaction() -> None:
    """Attach :class:`RedactingFilter` to every handler of the root logger.

    At debug level (``sg2dbt -vv``) shotgun_api3's own debug log, which it keeps at WARNING, is opened too:
    it shows each request and reply (request bodies carry the credentials: the filter redacts them).
    """
    root = logging.getLogger()
    if root.getEffectiveLevel() <= logging.DEBUG:
        import shotgun_api3  # noqa: F401 - its import sets its logger to WARNING: import first, then open it

        logging.getLogger("shotgun_api3").setLevel(logging.DEBUG)
    for handler in root.handlers:
        add_redaction(handler)


@dataclass(frozen=True)
class Credentials:
    url: str
    script: str | None = None
    api_key: str | None = field(default=None, repr=False)
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    sudo_as_login: str | None = None                           # a script acting as a user (shotgun_api3's own)
    auth_token: str | None = field(default=None, repr=False)   # a user's two-factor code

    @property
    def label(self) -> str:
        """The site and who connects, for messages: a password in the URL (basic auth) shows as ``***``."""
        who = f"script {self.script!r}" if self.script else f"login {self.login!r}"
        return f"{site_url(self.url)} ({who})"


def _read_secret(path: str, what: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CredentialsError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    if not text:
        raise CredentialsError(f"the {what} file {path} is empty")
    return text


def credentials(*, url: str | None = None, script: str | None = None, api_key_file: str | None = None,
                login: str | None = None, password_file: str | None = None, api_key_env: str | None = None,
                password_env: str | None = None, env: Mapping[str, str] | None = None) -> Credentials:
    """Credentials from explicit values (flags) first, then ``SG_*`` environment variables.

    ``api_key_env``/``password_env`` name the variable holding the secret (default ``SG_API_KEY`` and
    ``SG_PASSWORD``): a config file says where the secret is, never what it is.
    """
    env = os.environ if env is None else env
    url = url or env.get("SG_URL")
    script = script or env.get("SG_SCRIPT")
    login = login or env.get("SG_LOGIN")
    api_key_file = api_key_file or env.get("SG_API_KEY_FILE")
    password_file = password_file or env.get("SG_PASSWORD_FILE")
    for var, file in ((api_key_env, api_key_file), (password_env, password_file)):
        if var and not file and not env.get(var):
            raise CredentialsError(f"the environment variable {var}, named to hold the site's secret, is not set")
    if not url:
        raise CredentialsError("no site URL: pass --url, set SG_URL, or set site.url in sg2dbt.yml")
    site_url(url)   # registers a basic-auth password (and its header); refuses an unescaped '@'
    api_key = _read_secret(api_key_file, "API key") if api_key_file else env.get(api_key_env or "SG_API_KEY")
    password = (_read_secret(password_file, "password") if password_file
                else env.get(password_env or "SG_PASSWORD"))
    if script and api_key:
        register_secret(api_key)
        return Credentials(url=url, script=script, api_key=api_key)
    if login and password:
        register_secret(password)
        return Credentials(url=url, login=login, password=password)
    raise CredentialsError("no credentials: set SG_SCRIPT and SG_API_KEY (or SG_API_KEY_FILE), "
                           "or SG_LOGIN and SG_PASSWORD (or SG_PASSWORD_FILE)")


DEFAULT_TIMEOUT_SECS = 300.0


class SiteAnswerError(Sg2dbtError):
    """The site answered with something other than the API's JSON (a login, proxy or maintenance page)."""


def _api_answers_only(decode: Callable[[Any, Any], Any], label: str) -> Callable[[Any, Any], Any]:
    """Wrap shotgun_api3's response decoder: a reply that is not JSON is refused as one clear error.

    shotgun_api3 hands back the raw body of a reply whose content type is not JSON (an HTML page served
    with status 200 by a proxy or a maintenance screen) as if it were the API's answer; the caller then fails
    on it with an AttributeError or a TypeError far from the cause.
    """
    def decode_json(headers: Any, body: Any) -> Any:
        result = decode(headers, body)
        if body and isinstance(result, (bytes, str)):
            kind = (headers.get("content-type") or "no content type").split(";")[0].strip()
            what = "an HTML page" if "html" in kind.lower() or result[:20].lstrip()[:1] in ("<", b"<") else kind
            raise SiteAnswerError(f"{label}: the site answered with {what} ({kind}) instead of the API's JSON: "
                                  f"check the URL (a login, proxy or maintenance page?)")
        return result

    return decode_json


def connect(creds: Credentials, env: Mapping[str, str] | None = None, *, fast_replies: bool = True) -> Any:
    """A ``shotgun_api3.Shotgun`` connection (lazy: nothing is sent until the first call).

    Replies are handled by :mod:`sg2dbt.schema.replies` (the same answers as shotgun_api3's, faster).
    ``fast_replies``: its datetime transform too (datetimes aware in UTC); off for a connection
    handed to a user (SGORM's ``sg``), who gets shotgun_api3's own local-time datetimes.

    shotgun_api3 waits forever for an answer by default; a socket timeout (``SG_TIMEOUT_SECS``, default
    300 s) turns a hung request into an error the loader retries.
    """
    import shotgun_api3

    env = os.environ if env is None else env
    try:
        timeout = float(env.get("SG_TIMEOUT_SECS") or DEFAULT_TIMEOUT_SECS)
    except ValueError:
        raise CredentialsError("SG_TIMEOUT_SECS must be a number of seconds") from None
    try:
        if creds.script:
            sg = shotgun_api3.Shotgun(creds.url, script_name=creds.script, api_key=creds.api_key,
                                      sudo_as_login=creds.sudo_as_login, connect=False)
        else:
            sg = shotgun_api3.Shotgun(creds.url, login=creds.login, password=creds.password,
                                      auth_token=creds.auth_token, connect=False)
        sg.config.timeout_secs = timeout
        if hasattr(sg, "_decode_response"):   # a real connection (Mockgun, the test site, speaks no HTTP)
            sg._decode_response = _api_answers_only(sg._decode_response, creds.label)  # type: ignore[method-assign,assignment]
            replies.install(sg, datetimes=fast_replies)
        return sg
    except Exception as exc:  # noqa: BLE001 - shotgun_api3 raises ValueError, ShotgunError, ...
        raise CredentialsError(f"cannot connect to {creds.label}: {redacted_first_line(exc)}") from None
