"""Secrets out of every log record: registered values and the shapes secrets take.

Two nets. Values HEROES holds as secrets (a block's ``SecretStr`` fields, tokens it minted) are
registered and replaced wherever they appear, even inside an exception's text or a command
line; a multi-line secret such as an SSH private key is registered line by line too, so a log
line holding one line of the key is caught. Secrets HEROES never saw (a password typed into a
URL, a bearer token in a header some library logs) are caught by their shape. Both nets
replace what they find with ``***``.

Secrets shorter than :data:`MIN_SECRET_LENGTH` are not registered: replacing every ``abc`` in
every record would make the logs useless and protect nothing worth protecting.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final
from urllib.parse import unquote

from pydantic import BaseModel, SecretBytes, SecretStr

REDACTED: Final = "***"
MIN_SECRET_LENGTH: Final = 6
_MIN_LINE_LENGTH: Final = 16  # a line of a multi-line secret worth registering on its own

REDACTED_MARK: Final = "_heroes_redacted"
"""The record attribute that says a record was redacted already (set once, checked by formatters)."""
_URL_PASSWORD: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:([^@/\s]+)@")


# Each pattern: a cheap trigger (a substring of the lower-cased text) and the substitution.
_PATTERNS: Final[tuple[tuple[str | None, re.Pattern[str], str | Callable[[re.Match[str]], str]], ...]] = (
    # PEM private keys, whole or cut short.
    ("private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"
                               r"[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)"), REDACTED),
    # Authorization headers, any scheme: keep the header and the scheme, drop the credentials.
    ("authorization", re.compile(r"(?i)\b((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
                                 r"(?:(bearer|basic|token|digest|negotiate|aws4-hmac-sha256)\s+)?"
                                 r"[^\"'\r\n]+"),
     lambda m: f"{m[1]}{m[2] + ' ' if m[2] else ''}{REDACTED}"),
    ("bearer", re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*"), rf"\1 {REDACTED}"),
    # JSON Web Tokens (access tokens, HEROES grants).
    ("eyj", re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    # A password in a URL: scheme://user:password@host.
    ("://", re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s\"']*):[^@/\s\"']+@"), rf"\1:{REDACTED}@"),
    # key=value and "key": "value" pairs whose key names a secret.
    (None, re.compile(r"(?i)((?<![\w.-])[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key"
                      r"|private[_-]?key|credential)[\w.-]*[\"']?\s*[:=]\s*[\"']?)"
                      r"(?!SecretStr\(|SecretBytes\(|\*)[^\s\"',;&}\])]+"), rf"\1{REDACTED}"),
    # An AWS secret access key on its own: 40 characters of base64 mixing cases and digits.
    (None, re.compile(r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]{0,39}[A-Z])(?=[A-Za-z0-9/+]{0,39}[a-z])"
                      r"(?=[A-Za-z0-9/+]{0,39}[0-9])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"), REDACTED),
)
_KEY_WORDS: Final = ("pass", "pwd", "secret", "token", "key", "credential")


class SecretRegistry:
    """The secret values to take out of records, matched with one regular expression."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str | SecretStr | SecretBytes | None) -> None:
        """Register ``value`` (and, if it spans lines, each of its longer lines)."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, SecretBytes):
            value = value.get_secret_value().decode("utf-8", "replace")
        if not value:
            return
        found = {value.strip()} | {line.strip() for line in value.splitlines()
                                   if len(line.strip()) >= _MIN_LINE_LENGTH}
        password = _URL_PASSWORD.match(value.strip())
        if password:  # a URL holding a password (a database URL): the password alone too
            found |= {password[1], unquote(password[1])}
        found = {each for each in found if len(each) >= MIN_SECRET_LENGTH}
        with self._lock:
            if found <= self._values:
                return
            self._values |= found
            # Longest first, so a secret that contains another is replaced whole.
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(each) for each in ordered))

    def add_all(self, values: Iterable[str | SecretStr | SecretBytes | None]) -> None:
        for value in values:
            self.add(value)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None

    def __len__(self) -> int:
        return len(self._values)

    def redact(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(REDACTED, text) if pattern is not None else text


SECRETS: Final = SecretRegistry()
"""The process's registry: what :func:`register_secret` adds to and :func:`redact` removes."""


def register_secret(value: str | SecretStr | SecretBytes | None) -> None:
    """Never let ``value`` appear in a log record of this process."""
    SECRETS.add(value)


def secrets_of(model: BaseModel) -> list[str]:
    """The values of ``model``'s ``SecretStr``/``SecretBytes`` fields, nested models included."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, SecretBytes):
            found.append(value.get_secret_value().decode("utf-8", "replace"))
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name, None))
        elif isinstance(value, Mapping):
            for each in value.values():
                walk(each)
        elif isinstance(value, list | tuple | set | frozenset):
            for each in value:
                walk(each)

    walk(model)
    return found


def register_secrets_of(model: BaseModel) -> None:
    """Register every secret field of ``model`` (a block, a settings model) with :data:`SECRETS`."""
    SECRETS.add_all(secrets_of(model))


def redact(text: str) -> str:
    """``text`` with registered secrets and secret-shaped substrings replaced by ``***``."""
    text = SECRETS.redact(text)
    lowered = text.lower()
    for trigger, pattern, replacement in _PATTERNS:
        if trigger is None:
            if pattern.groups and not any(word in lowered for word in _KEY_WORDS):
                continue  # the key=value pattern: no key word, no match possible
            if not pattern.groups and len(text) < 40:
                continue  # the AWS key pattern needs 40 characters
        elif trigger not in lowered:
            continue
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    """``value`` with every string in it redacted (dicts and lists are copied, not changed)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_value(each) for key, each in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(each) for each in value]
    return value


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact ``record`` in place, once: its message (arguments merged in), its exception text
    and stack. Every handler after this sees the redacted record, Prefect's API handler too."""
    if record.__dict__.get(REDACTED_MARK):
        return record
    record.__dict__[REDACTED_MARK] = True
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: the handler reports it as logging always has
        return record
    cleaned = redact(message)
    if cleaned != message or record.args:
        record.msg, record.args = cleaned, None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


class RedactingFilter(logging.Filter):
    """A handler filter that redacts each record (:func:`redact_record`) and drops none.

    :func:`heroes_core.logs.configure` redacts records as they are made, which no handler can
    miss; this filter is for logging configurations written by hand (``logging.yml``).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True
