"""Grants: the gateway's signed word that a verified identity may start one run, as launched.

A flow run on the Prefect API carries whatever parameters its creator typed. So a
user-facing flow takes no organisation, user or project parameter: it takes a *grant*, a
short-lived token the gateway issues after ``authorize``, and reads who runs it from there.

What a grant binds
------------------
* the identity (subject, user, organisation, projects, roles) and the action authorised;
* the run's project, one of the identity's projects, or none;
* the deployment (``flow/deployment``) the run must come from;
* a SHA-256 digest of the canonical JSON of every other parameter of the run
  (:func:`canonical_json`), so a parameter changed after issue is caught;
* issued-at and expiry (minutes), and a random nonce that the project database lets
  start one flow run only (:class:`heroes_core.identity.grant_ledger.GrantLedger`).

Why an HS256 JWT (PyJWT) with a key of its own
----------------------------------------------
The issuer (the gateway) and the verifier (the flows) are both HEROES, holding one shared
secret: a MAC is all the trust needed, and HS256 is the compact, standard token for it.
PyJWT is already the token library of :mod:`heroes_core.identity.tokens`; it compares
signatures in constant time and refuses an algorithm other than the one pinned here, so a
``none`` or RSA-signed token cannot pass. The key is HEROES' own (never Keycloak's), at
least 32 bytes (RFC 7518 asks HS256 keys to be as long as the hash), so a Keycloak access
token can never pass as a grant, nor a grant as an access token (the ``typ`` differs too).
The expiry is checked here, against a ``now`` the caller may fix, rather than by PyJWT,
so the tests need no clock tricks.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import jwt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from heroes_core.errors import (
    GrantExpiredError,
    GrantForgedError,
    GrantKeyError,
    GrantMalformedError,
    GrantMissingError,
    GrantParametersChangedError,
    GrantWrongDeploymentError,
    SpecError,
)
from heroes_core.identity._actions import Action
from heroes_core.identity._identity import Identity
from heroes_core.models import Name

ALGORITHM: Final = "HS256"
TOKEN_TYPE: Final = "heroes-grant+jwt"  # noqa: S105 (a header value, not a secret)
ISSUER: Final = "heroes-gateway"
MIN_KEY_BYTES: Final = 32
DEFAULT_TTL: Final = timedelta(minutes=10)
MAX_TTL: Final = timedelta(minutes=60)
# Clocks of the gateway and of the process that runs the flow may differ by this much.
LEEWAY: Final = timedelta(seconds=30)
# The parameter that holds the grant itself: it is not part of what the grant binds.
GRANT_PARAMETER: Final = "grant"

_RELAUNCH = ("launch the run again through the HEROES gateway (`heroes run` or its UI), which issues "
             "a fresh grant")


class Grant(BaseModel):
    """A verified grant: who may start which run, with which parameters, until when."""

    model_config = ConfigDict(frozen=True)

    identity: Identity
    action: Action
    deployment: str = Field(min_length=1, max_length=300, description="flow/deployment")
    project: Name | None = None
    parameters_digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    issued_at: datetime
    expires_at: datetime
    nonce: str = Field(min_length=16, max_length=64)


def canonical_json(parameters: Mapping[str, Any]) -> str:
    """One text for parameters that mean the same, whatever wrote them.

    Keys are sorted, no whitespace, text kept as UTF-8. A number is written by its value, not
    its type: ``1``, ``1.0`` and ``Decimal("1.00")`` are all ``1``, and ``0.1`` (a float, whose
    shortest repr is used) equals ``Decimal("0.1")``; a JSON round trip (the Prefect API
    stores parameters as JSON) never changes the text. Only JSON values are accepted (plus
    Decimal and tuples); NaN and infinities are refused, as JSON has none.
    """
    return _encode(dict(parameters))


def parameters_digest(parameters: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of every parameter but the grant itself."""
    bound = {name: value for name, value in parameters.items() if name != GRANT_PARAMETER}
    return hashlib.sha256(canonical_json(bound).encode()).hexdigest()


def _encode(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        return _number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise SpecError("parameter maps must have text keys to be granted",
                            fix="pass the parameters as the JSON the Prefect API stores")
        return "{" + ",".join(f"{json.dumps(key, ensure_ascii=False)}:{_encode(value[key])}"
                              for key in sorted(value)) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    raise SpecError(f"a parameter of type {type(value).__name__} cannot be granted",
                    fix="pass the parameters as the JSON the Prefect API stores")


def _number(value: float | Decimal) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{value} is not a JSON number", fix="pass finite numbers")
    number = Decimal(repr(value)) if isinstance(value, float) else value
    if not number.is_finite():
        raise SpecError(f"{value} is not a JSON number", fix="pass finite numbers")
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def _key_bytes(key: str | bytes) -> bytes:
    raw = key.encode() if isinstance(key, str) else key
    if len(raw) < MIN_KEY_BYTES:
        raise GrantKeyError(f"the grant key has {len(raw)} bytes; grants need at least {MIN_KEY_BYTES}",
                            fix="store a random key of 32 bytes or more (e.g. `python -c \"import "
                                "secrets; print(secrets.token_urlsafe(48))\"`) in the grant key's "
                                "Secret block")
    return raw


def issue_grant(identity: Identity, action: Action, deployment: str, parameters: Mapping[str, Any],
                key: str | bytes, ttl: timedelta = DEFAULT_TTL, *, project: str | None = None,
                now: datetime | None = None) -> str:
    """A grant for ``identity`` to start ``deployment`` with exactly ``parameters``.

    Call it after ``authorize`` allowed ``action``: the grant records that decision, it does
    not make it. ``project`` must be one of the identity's projects (or None); ``parameters``
    are the run's parameters as sent to the Prefect API (a ``grant`` entry among them is
    ignored).
    """
    if not timedelta(0) < ttl <= MAX_TTL:
        raise SpecError(f"a grant lives more than 0 s and at most {MAX_TTL}, not {ttl}",
                        fix="grants are short-lived: issue one just before creating the run")
    if project is not None and project not in identity.projects:
        raise SpecError(f"'{identity.user}' is not a member of project '{project}'",
                        fix="choose one of your projects, or none")
    issued = (now or datetime.now(UTC)).astimezone(UTC)
    claims = {
        "iss": ISSUER,
        "sub": identity.subject,
        "usr": identity.user,
        "org": identity.organisation,
        "pjs": sorted(identity.projects),
        "rol": sorted(role.value for role in identity.roles),
        "svc": identity.service_account,
        "act": action.value,
        "dep": deployment,
        "prj": project,
        "par": parameters_digest(parameters),
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
        "jti": secrets.token_urlsafe(24),
    }
    return jwt.encode(claims, _key_bytes(key), algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE})


def read_grant(token: object, key: str | bytes) -> Grant:
    """The grant ``token`` holds, its signature checked but not its times, run or parameters.

    For clean-up only (a cancelled run's hook, long after its grant expired): to let a run
    start, use :func:`verify_grant`.
    """
    if not isinstance(token, str) or not token.strip():
        raise GrantMissingError("this run carries no grant: it was not started through the HEROES gateway",
                                fix=_RELAUNCH)
    secret = _key_bytes(key)
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                     "verify_aud": False,
                                     "require": ["iss", "sub", "iat", "exp", "jti"]})
    except jwt.InvalidSignatureError:
        raise GrantForgedError("the run's grant is not signed by the HEROES gateway: it was forged or "
                               "altered", fix=_RELAUNCH) from None
    except jwt.InvalidAlgorithmError:
        raise GrantForgedError(f"the run's grant is not signed with {ALGORITHM} by the HEROES gateway",
                               fix=_RELAUNCH) from None
    except jwt.PyJWTError:
        raise GrantMalformedError("the run's grant is not a HEROES grant (not a signed token of the "
                                  "expected shape)", fix=_RELAUNCH) from None
    if header.get("typ") != TOKEN_TYPE:
        raise GrantMalformedError("the run's grant is a signed token, but not a HEROES grant",
                                  fix=_RELAUNCH)
    try:
        identity = Identity(subject=claims["sub"], user=claims["usr"], organisation=claims["org"],
                            projects=frozenset(claims["pjs"]), roles=frozenset(claims["rol"]),
                            service_account=claims["svc"])
        return Grant(identity=identity, action=claims["act"], deployment=claims["dep"],
                     project=claims["prj"], parameters_digest=claims["par"],
                     issued_at=datetime.fromtimestamp(claims["iat"], UTC),
                     expires_at=datetime.fromtimestamp(claims["exp"], UTC), nonce=claims["jti"])
    except (KeyError, TypeError, ValueError, ValidationError):
        raise GrantMalformedError("the run's grant is signed but its content is not a HEROES grant's",
                                  fix=_RELAUNCH) from None


def verify_grant(token: object, deployment: str, parameters: Mapping[str, Any], key: str | bytes,
                 now: datetime | None = None) -> Grant:
    """The grant, if ``token`` lets a run of ``deployment`` with ``parameters`` start ``now``.

    Checks, in order: present, well formed and signed with ``key`` (forged), within its
    life (expired, with :data:`LEEWAY` for clocks), for this deployment, for exactly these
    parameters (a ``grant`` entry among them is ignored). Whether it already started
    another run is the ledger's to say (:class:`heroes_core.identity.grant_ledger.GrantLedger`).
    """
    grant = read_grant(token, key)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    if grant.expires_at - grant.issued_at > MAX_TTL:
        raise GrantMalformedError(f"the run's grant claims a life longer than {MAX_TTL}", fix=_RELAUNCH)
    if moment + LEEWAY < grant.issued_at:
        issued = f"{grant.issued_at:%Y-%m-%d %H:%M:%S} UTC"
        raise GrantExpiredError(f"the run's grant is issued in the future ({issued}): the gateway's "
                                "clock and this worker's disagree",
                                fix="synchronise the clocks (NTP) of the gateway and the workers, then "
                                    + _RELAUNCH)
    if moment - LEEWAY >= grant.expires_at:
        life = int((grant.expires_at - grant.issued_at).total_seconds() // 60)
        raise GrantExpiredError(f"the run's grant expired at {grant.expires_at:%Y-%m-%d %H:%M:%S} UTC "
                                f"(grants live {life} minute(s) and are checked when the run starts)",
                                fix=_RELAUNCH)
    if grant.deployment != deployment:
        raise GrantWrongDeploymentError(f"the run's grant is for deployment '{grant.deployment}', not "
                                        f"'{deployment}'", fix=_RELAUNCH + f" for '{deployment}'")
    if not secrets.compare_digest(grant.parameters_digest, parameters_digest(parameters)):
        raise GrantParametersChangedError(
            "the run's parameters are not those its grant was issued for: they were changed after "
            "launch, or the grant was copied onto another run",
            fix="to run with other parameters, " + _RELAUNCH + " with those parameters")
    return grant


__all__ = [
    "DEFAULT_TTL",
    "GRANT_PARAMETER",
    "LEEWAY",
    "MAX_TTL",
    "MIN_KEY_BYTES",
    "Grant",
    "canonical_json",
    "issue_grant",
    "parameters_digest",
    "read_grant",
    "verify_grant",
]
