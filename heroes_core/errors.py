"""Errors that tell the user what failed, where, and how to fix it.

Every HEROES error carries the site it happened on and a suggested fix, because
the person reading it is usually a scientist in the Prefect UI who cannot see
the centre's logs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class HeroesError(Exception):
    """Base error: a message naming the site, the thing at fault and the fix."""

    def __init__(self, message: str, *, site: str | None = None, fix: str | None = None) -> None:
        self.site = site
        self.fix = fix
        self.detail = message
        parts = [f"[{site}] {message}" if site else message]
        if fix:
            parts.append(f"Fix: {fix}")
        super().__init__(" ".join(parts))


class SpecError(HeroesError, ValueError):
    """A job specification or user input is malformed."""


class PathEscapeError(SpecError):
    """A path tries to leave the user's area (``..``, absolute path or symlink)."""


class TransportError(HeroesError):
    """A command or file operation on a site could not be carried out."""


class HostKeyError(TransportError):
    """The site's SSH host key is unknown or differs from the pinned one."""


class AuthenticationError(TransportError):
    """The site refused the service account's credentials."""


class UnreachableError(TransportError):
    """No connection to the site could be made."""


class ConnectionLostError(TransportError):
    """The link dropped after a command was sent: its outcome is unknown."""


class CommandTimeoutError(TransportError):
    """A remote command did not finish in time."""


class SchedulerError(HeroesError):
    """The batch scheduler refused or failed a request."""


class FeatureNotAvailableError(SchedulerError):
    """The site's scheduler cannot do this at all (e.g. no accounting): asking again will not help."""


class ImageError(HeroesError):
    """A container image is missing or its digest does not match."""


class TransferError(HeroesError):
    """A data transfer failed or could not be verified."""


class ChecksumMismatchError(TransferError):
    """What arrived is not what was sent: a part or a file's checksum differs."""

    http_status: ClassVar[int] = 422


class NotInArchiveError(SpecError, LookupError):
    """A file or an upload is not in the caller's area (or does not exist: the same answer)."""

    http_status: ClassVar[int] = 404


class QuotaExceededError(SpecError):
    """Storing or producing this much would pass a quota or an output limit."""

    http_status: ClassVar[int] = 413


class JobFailedError(HeroesError):
    """A job ended in a state other than COMPLETED."""


class TokenFailure(StrEnum):
    """Why an access token was refused: the gateway puts it in its 401 answer."""

    MALFORMED = "malformed"
    BAD_ALGORITHM = "bad-algorithm"
    UNKNOWN_KEY = "unknown-key"
    BAD_SIGNATURE = "bad-signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    WRONG_ISSUER = "wrong-issuer"
    WRONG_AUDIENCE = "wrong-audience"
    INVALID_CLAIMS = "invalid-claims"
    KEYS_UNAVAILABLE = "keys-unavailable"


class TokenError(HeroesError):
    """An access token does not prove who the caller is (an HTTP API answers 401).

    Distinct from :class:`AuthenticationError`, which is a site refusing the service
    account's SSH credentials: here it is a person or program refused by HEROES itself.
    """

    http_status: ClassVar[int] = 401

    def __init__(self, message: str, *, reason: TokenFailure, fix: str | None = None) -> None:
        self.reason = reason
        super().__init__(message, fix=fix)


class KeysUnavailableError(TokenError):
    """The identity provider's signing keys could not be fetched: no token can be checked.

    Nothing is wrong with the caller's token, so an HTTP API answers 503 and the caller
    may retry once the identity provider answers again.
    """

    http_status: ClassVar[int] = 503


class PermissionDeniedError(HeroesError, PermissionError):
    """A verified caller may not do this (an HTTP API answers 403).

    Its message names the action and the caller's roles, never anything about a
    resource of another organisation: not its name, its owner, nor whether it exists.
    """

    http_status: ClassVar[int] = 403

    def __init__(self, message: str, *, action: str, fix: str | None = None) -> None:
        self.action = action
        super().__init__(message, fix=fix)


class GrantFailure(StrEnum):
    """Why a run's grant was refused: the run fails at entry with it, before any step."""

    MISSING = "missing"
    MALFORMED = "malformed"
    FORGED = "forged"
    EXPIRED = "expired"
    WRONG_DEPLOYMENT = "wrong-deployment"
    PARAMETERS_CHANGED = "parameters-changed"
    REPLAYED = "replayed"
    BAD_KEY = "bad-key"


class GrantError(HeroesError):
    """A flow run's grant does not let it run: nothing of the run has been done.

    A grant is the gateway's signed word that a verified identity may start this run with
    these parameters (:mod:`heroes_core.identity.grants`). Its messages say what is wrong
    and how to get a good one, never the key nor what another grant holds.
    """

    reason: ClassVar[GrantFailure]

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message, site="identity", fix=fix)


class GrantMissingError(GrantError):
    """The run carries no grant at all (it was not started through the gateway)."""

    reason = GrantFailure.MISSING


class GrantMalformedError(GrantError):
    """The grant is not a grant: not a signed token of the expected shape."""

    reason = GrantFailure.MALFORMED


class GrantForgedError(GrantError):
    """The grant's signature is not the gateway's: it was made or altered by someone else."""

    reason = GrantFailure.FORGED


class GrantExpiredError(GrantError):
    """The grant's short life is over (or it claims to be issued in the future)."""

    reason = GrantFailure.EXPIRED


class GrantWrongDeploymentError(GrantError):
    """The grant was issued for another deployment than the one this run comes from."""

    reason = GrantFailure.WRONG_DEPLOYMENT


class GrantParametersChangedError(GrantError):
    """The run's parameters are not those the grant was issued for."""

    reason = GrantFailure.PARAMETERS_CHANGED


class GrantReplayedError(GrantError):
    """The grant has already started another flow run: a grant starts one run only."""

    reason = GrantFailure.REPLAYED


class GrantKeyError(GrantError):
    """The grant key is unusable (too short): a configuration fault, not the caller's."""

    reason = GrantFailure.BAD_KEY
