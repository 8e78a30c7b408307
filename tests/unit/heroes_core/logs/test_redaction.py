"""No secret reaches a log line: registered values, secret fields, and secret-shaped text."""

from __future__ import annotations

import io
import json
import logging

import pytest
from pydantic import BaseModel, SecretStr

import heroes_core.logs as logs
from heroes_core.logs import REDACTED, redact
from tests.unit.heroes_core.logs.helpers import capture

S3_SECRET = "deb1c4d73135675852931b3027880a0dd389f9f5"
PRIVATE_KEY = ("-----BEGIN OPENSSH PRIVATE KEY-----\n"
               "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
               "QyNTUxOQAAACCD8ioWnMNtyXazdZhtRvlJYxh7nwD2GlDs6d98bQTwAAAAJi7n5g9u5+Y\n"
               "-----END OPENSSH PRIVATE KEY-----\n")


class Archive(BaseModel):
    endpoint: str
    secret_access_key: SecretStr


class Centre(BaseModel):
    private_key: SecretStr
    archive: Archive
    extra: list[SecretStr] = []


def test_a_registered_secret_is_replaced_in_messages_arguments_exceptions_and_extras() -> None:
    logs.register_secret(S3_SECRET)
    logger, stream = capture("heroes_core.test.secret")
    logs.configure("text", environ={})  # redacts records as they are made
    logger.info("key is %s", S3_SECRET)
    try:
        raise ValueError(f"S3 refused {S3_SECRET}")
    except ValueError:
        logger.exception("upload failed")
    logger.info("extra", extra={"request": {"secret": S3_SECRET}})
    text = stream.getvalue()
    assert S3_SECRET not in text
    assert text.count(REDACTED) >= 3


def test_every_secret_field_of_a_model_is_registered_ssh_keys_line_by_line() -> None:
    centre = Centre(private_key=SecretStr(PRIVATE_KEY),
                    archive=Archive(endpoint="http://s3", secret_access_key=SecretStr(S3_SECRET)),
                    extra=[SecretStr("another-secret-value")])
    logs.register_secrets_of(centre)
    one_line = PRIVATE_KEY.splitlines()[2]
    assert redact(f"ssh said: {one_line}") == f"ssh said: {REDACTED}"
    assert S3_SECRET not in redact(f"s3 {S3_SECRET}")
    assert "another-secret-value" not in redact("x another-secret-value y")
    assert set(logs.secrets_of(centre)) == {PRIVATE_KEY, S3_SECRET, "another-secret-value"}


@pytest.mark.parametrize(("text", "secret"), [
    ("GET /v1 Authorization: Bearer eyJhbGciOi.abc-def_ghi", "eyJhbGciOi.abc-def_ghi"),
    ('{"authorization": "Basic dXNlcjpodW50ZXIy"}', "dXNlcjpodW50ZXIy"),
    ("headers={'Authorization': 'AWS4-HMAC-SHA256 Credential=AKIA/2024, Signature=abcdef0123'}",
     "Signature=abcdef0123"),
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG"),
    ("secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY in the open", "wJalrXUtnFEMI/K7MDENG"),
    ("postgresql+psycopg://heroes:a4eeede853f6ec@127.0.0.1:5433/heroes", "a4eeede853f6ec"),
    ("connect https://admin:s3cr%40t@keycloak:8180/realms", "s3cr%40t"),
    ("password=hunter2hunter2 user=bob", "hunter2hunter2"),
    ('{"client_secret": "Xb9dD0kX2dcA", "client_id": "heroes"}', "Xb9dD0kX2dcA"),
    ("KEYCLOAK_ADMIN_PASSWORD: qwerty-123", "qwerty-123"),
    ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl in the grant",
     "eyJzdWIiOiJhbGljZSJ9"),
    ("key:\n" + PRIVATE_KEY, "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"),
    ("truncated -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7", "MIIEowIBAAKCAQEA7"),
])
def test_secret_shaped_text_is_redacted_without_registration(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert REDACTED in cleaned


@pytest.mark.parametrize("text", [
    "job 4242 ended COMPLETED on local-slurm",
    "image sha256:af3bf6fd45ef777b21ebe432de0129dfad35898e128495618b2bf4d8bf741bfc verified",
    "git commit f9ba7c5d0e1a2b3c4d5e6f708192a3b4c5d6e7f8",  # a SHA-1: hex, not a secret key
    "staged 3 files to /home/heroes-svc/heroes/acme/alice/k-1",
    "password field is required",
    "private_key=SecretStr('**********')",
])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_a_registered_url_registers_its_password_alone_too() -> None:
    logs.register_secret(SecretStr("postgresql+psycopg://heroes:a4eeede853f6%40ec@127.0.0.1:5433/heroes"))
    assert redact("auth failed for a4eeede853f6@ec") == f"auth failed for {REDACTED}"


def test_short_values_are_not_registered_so_logs_stay_readable() -> None:
    logs.register_secret("abc")
    assert redact("abc def") == "abc def"
    assert len(logs.SECRETS) == 0


def test_a_handler_that_is_not_heroes_own_sees_redacted_records_once_configured() -> None:
    """As Prefect's API handler does: a plain handler with the default formatter."""
    logs.configure("text", environ={})
    logs.register_secret(S3_SECRET)
    stream = io.StringIO()
    logger = logging.getLogger("prefect.flow_runs.test")
    logger.handlers[:] = [logging.StreamHandler(stream)]
    logger.propagate = False
    logger.warning("uploading with %s to %s", S3_SECRET, "http://u:pw12345@s3/x")
    try:
        raise RuntimeError(S3_SECRET)
    except RuntimeError:
        logger.exception("failed")
    assert S3_SECRET not in stream.getvalue()
    assert "pw12345" not in stream.getvalue()


def test_a_redacting_filter_serves_hand_written_logging_configurations() -> None:
    logs.register_secret(S3_SECRET)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RedactingFilter())
    logger = logging.getLogger("heroes.test.filter")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.error("with %s", S3_SECRET)
    assert stream.getvalue() == f"with {REDACTED}\n"


def test_the_ecs_document_is_redacted_in_every_field() -> None:
    logs.register_secret(S3_SECRET)
    logger, stream = capture("heroes.test.doc")  # no configure(): the formatter alone redacts
    try:
        raise OSError(f"denied for {S3_SECRET}")
    except OSError:
        logger.exception("msg %s", S3_SECRET, extra={"url": "https://x:pw98765@h"})
    line = stream.getvalue()
    assert S3_SECRET not in line and "pw98765" not in line
    assert json.loads(line)["message"] == f"msg {REDACTED}"
