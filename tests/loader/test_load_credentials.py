"""Site credentials: from flags and ``SG_*`` variables, secrets only from the environment or a file, never shown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sg2dbt.core.secrets import RedactingFilter, redact
from sg2dbt.schema.connect import CredentialsError, connect, credentials

SECRET = "sg2dbt-test-secret-91c2"


def test_script_key_from_env_and_login_password_from_file(tmp_path: Path) -> None:
    creds = credentials(env={"SG_URL": "https://studio.example.com", "SG_SCRIPT": "etl", "SG_API_KEY": SECRET})
    assert (creds.url, creds.script, creds.api_key) == ("https://studio.example.com", "etl", SECRET)
    assert SECRET not in repr(creds) and SECRET not in creds.label

    (tmp_path / "pw").write_text(SECRET + "\n")
    creds = credentials(url="https://other.example.com", login="ana", password_file=str(tmp_path / "pw"),
                        env={"SG_URL": "https://ignored.example.com"})
    assert (creds.url, creds.login, creds.password) == ("https://other.example.com", "ana", SECRET)
    assert SECRET not in repr(creds)


@pytest.mark.parametrize(("kwargs", "env", "message"), [
    ({}, {}, "no site URL"),
    ({}, {"SG_URL": "https://s.example.com", "SG_SCRIPT": "etl"}, "no credentials"),
    ({"api_key_file": "/nonexistent/key"}, {"SG_URL": "https://s.example.com", "SG_SCRIPT": "etl"},
     "cannot read the API key file /nonexistent/key"),
])
def test_missing_credentials_are_one_clear_error(kwargs: dict[str, str], env: dict[str, str], message: str) -> None:
    with pytest.raises(CredentialsError, match=message):
        credentials(env=env, **kwargs)


def test_registered_secrets_are_redacted_from_messages_and_log_records(caplog: pytest.LogCaptureFixture) -> None:
    credentials(env={"SG_URL": "https://s.example.com", "SG_SCRIPT": "etl", "SG_API_KEY": SECRET})
    assert redact(f"body: {{'script_key': '{SECRET}'}}") == "body: {'script_key': '***'}"
    record = logging.LogRecord("shotgun_api3", logging.DEBUG, __file__, 1, "Request body is %s",
                               ({"script_key": SECRET},), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "Request body is {'script_key': '***'}"


def test_connect_does_not_contact_the_site_and_sets_a_timeout() -> None:
    creds = credentials(env={"SG_URL": "https://s.example.com", "SG_SCRIPT": "etl", "SG_API_KEY": SECRET})
    sg = connect(creds, env={"SG_TIMEOUT_SECS": "7"})
    assert sg.config.timeout_secs == 7.0
    with pytest.raises(CredentialsError, match="SG_TIMEOUT_SECS"):
        connect(creds, env={"SG_TIMEOUT_SECS": "soon"})
