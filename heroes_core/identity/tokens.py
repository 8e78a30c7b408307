"""Access tokens verified offline against the identity provider's published keys (JWKS).

Verifying a token needs no call to Keycloak: the signing keys are fetched once and cached.
A token signed with a key the cache does not know (Keycloak rotated its keys) triggers one
refetch, at most one per ``refetch_interval`` whatever the traffic, so a rotated key is
picked up without a restart while a flood of made-up key ids cannot hammer Keycloak. Each
fetch replaces the whole key set, so a key Keycloak removed stops verifying at the next
fetch. When the keys cannot be fetched, verification fails closed
(:class:`KeysUnavailableError`) rather than trusting a stale set indefinitely.

Algorithms are pinned to asymmetric ones (RS256 and ES256 by default): ``none`` and the
HMAC family are refused outright, so a token "signed" with the public key as an HMAC secret
is never checked against it, and a key is only used with the algorithm it was published for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Final

import httpx
import jwt
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidKeyError,
    InvalidSignatureError,
    InvalidTokenError,
    MissingRequiredClaimError,
    PyJWKError,
)

from heroes_core.errors import KeysUnavailableError, TokenError, TokenFailure
from heroes_core.identity._identity import ClaimLayout, Identity

ASYMMETRIC_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                          "ES256", "ES384", "ES512"})
REQUIRED_CLAIMS: Final = ("exp", "iat", "iss", "aud", "sub")
_RELOGIN = "log in again (heroes login) to get a fresh token"


class TokenVerifier:
    """Checks access tokens of one issuer for one audience; safe to share between threads.

    ``transport`` swaps only how the key set is fetched (tests pass an
    ``httpx.MockTransport``); everything else is the path production takes.
    """

    def __init__(self, issuer: str, audience: str | Sequence[str], jwks_url: str, *,
                 algorithms: Collection[str] = ("RS256", "ES256"), leeway: float = 30.0,
                 cache_seconds: float = 300.0, refetch_interval: float = 10.0, timeout: float = 5.0,
                 layout: ClaimLayout | None = None, transport: httpx.BaseTransport | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        refused = set(algorithms) - ASYMMETRIC_ALGORITHMS
        if refused or not algorithms:
            raise ValueError(f"algorithms {sorted(refused) or '(none)'} are not allowed: only asymmetric "
                             f"ones ({', '.join(sorted(ASYMMETRIC_ALGORITHMS))}) verify a token offline")
        if not jwks_url.startswith(("https://", "http://")):
            raise ValueError(f"the JWKS URL {jwks_url!r} must be http(s)")
        self.issuer = issuer
        self.audience = audience if isinstance(audience, str) else list(audience)
        self.jwks_url = jwks_url
        self.algorithms = frozenset(algorithms)
        self.leeway = leeway
        self.cache_seconds = cache_seconds
        self.refetch_interval = refetch_interval
        self.timeout = timeout
        self.layout = layout or ClaimLayout()
        self._transport = transport
        self._client: httpx.Client | None = None  # made at the first fetch, reused by later ones
        self._clock = clock
        self._lock = threading.Lock()
        # (keys by kid, when fetched); replaced whole, so readers need no lock
        self._keys: tuple[Mapping[str, jwt.PyJWK], float] | None = None
        self._last_forced: float | None = None
        self.fetches = 0  # how many times the key set was fetched: for tests and benchmarks

    def close(self) -> None:
        """Close the HTTP client the key set is fetched with (a later fetch opens a new one)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> TokenVerifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims once signature, issuer, audience, expiry and not-before all check out."""
        try:
            header = jwt.get_unverified_header(token)
        except InvalidTokenError:
            raise TokenError("the token is not a well-formed JWT", reason=TokenFailure.MALFORMED,
                             fix="send the access token itself as 'Authorization: Bearer <token>'") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            raise TokenError(f"the token's algorithm {str(algorithm)[:16]!r} is not accepted (accepted: "
                             f"{', '.join(sorted(self.algorithms))})", reason=TokenFailure.BAD_ALGORITHM,
                             fix="use an access token issued by HEROES' identity provider")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenError("the token names no signing key ('kid')", reason=TokenFailure.UNKNOWN_KEY,
                             fix="use an access token issued by HEROES' identity provider")
        key = self._key(kid)
        if key.algorithm_name != algorithm:
            raise TokenError(f"the token's algorithm {algorithm} is not the one its key is published for",
                             reason=TokenFailure.BAD_ALGORITHM, fix=_RELOGIN)
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[algorithm], audience=self.audience, issuer=self.issuer,
                leeway=self.leeway, options={"require": list(REQUIRED_CLAIMS)})
        except InvalidTokenError as error:
            raise self._refusal(error) from None
        kind = claims.get("typ")
        if kind is not None and kind != "Bearer":
            raise TokenError(f"the token is a {str(kind)[:16]!r} token, not an access token",
                             reason=TokenFailure.MALFORMED, fix="send the access token, not the ID token")
        return claims

    def identity(self, token: str) -> Identity:
        """The verified caller a token describes (:meth:`verify`, then :meth:`Identity.from_claims`)."""
        return Identity.from_claims(self.verify(token), self.layout)

    def _refusal(self, error: InvalidTokenError) -> TokenError:
        if isinstance(error, ExpiredSignatureError):
            return TokenError("the token has expired", reason=TokenFailure.EXPIRED, fix=_RELOGIN)
        if isinstance(error, ImmatureSignatureError):
            return TokenError("the token is not valid yet (not-before or issued-at in the future)",
                              reason=TokenFailure.NOT_YET_VALID,
                              fix="check the clocks of this host and of the identity provider")
        if isinstance(error, InvalidSignatureError):
            return TokenError("the token's signature does not match its content",
                              reason=TokenFailure.BAD_SIGNATURE, fix=_RELOGIN)
        if isinstance(error, InvalidIssuerError):
            return TokenError(f"the token was not issued by {self.issuer}", reason=TokenFailure.WRONG_ISSUER,
                              fix=f"log in through {self.issuer}")
        if isinstance(error, InvalidAudienceError):
            return TokenError(f"the token is not meant for {self.audience}",
                              reason=TokenFailure.WRONG_AUDIENCE,
                              fix=f"request a token whose audience includes {self.audience}")
        if isinstance(error, InvalidAlgorithmError):
            return TokenError("the token's algorithm is not accepted", reason=TokenFailure.BAD_ALGORITHM,
                              fix=_RELOGIN)
        if isinstance(error, MissingRequiredClaimError):
            return TokenError(f"the token lacks the '{error.claim}' claim", reason=TokenFailure.MALFORMED,
                              fix="use an access token issued by HEROES' identity provider")
        return TokenError(f"the token is invalid: {error}", reason=TokenFailure.MALFORMED, fix=_RELOGIN)

    def _key(self, kid: str) -> jwt.PyJWK:
        cached = self._keys
        if cached is not None and self._clock() - cached[1] < self.cache_seconds and kid in cached[0]:
            return cached[0][kid]
        with self._lock:
            now = self._clock()
            cached = self._keys
            if cached is None or now - cached[1] >= self.cache_seconds:
                cached = self._fetch(now)
            elif kid not in cached[0] and (self._last_forced is None
                                           or now - self._last_forced >= self.refetch_interval):
                self._last_forced = now
                cached = self._fetch(now)
        key = cached[0].get(kid)
        if key is None:
            raise TokenError(f"the token is signed with a key ({kid[:64]!r}) the identity provider does "
                             "not publish", reason=TokenFailure.UNKNOWN_KEY, fix=_RELOGIN)
        return key

    def _fetch(self, now: float) -> tuple[Mapping[str, jwt.PyJWK], float]:
        """Fetch the key set, keep the signing keys of accepted algorithms, replace the cache.

        Called with the lock held.
        """
        self.fetches += 1
        fix = f"check that the identity provider answers at {self.jwks_url}, then retry"
        try:
            if self._client is None:
                self._client = httpx.Client(transport=self._transport, timeout=self.timeout,
                                            follow_redirects=False)
            response = self._client.get(self.jwks_url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        except httpx.HTTPStatusError as error:
            raise KeysUnavailableError(f"the identity provider's keys could not be fetched: {self.jwks_url} "
                                       f"answered {error.response.status_code}",
                                       reason=TokenFailure.KEYS_UNAVAILABLE, fix=fix) from None
        except (httpx.HTTPError, ValueError) as error:
            raise KeysUnavailableError(f"the identity provider's keys could not be fetched from "
                                       f"{self.jwks_url}: {type(error).__name__}: {error}",
                                       reason=TokenFailure.KEYS_UNAVAILABLE, fix=fix) from None
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise KeysUnavailableError(f"{self.jwks_url} did not answer a JSON Web Key Set",
                                       reason=TokenFailure.KEYS_UNAVAILABLE, fix=fix)
        keys = {}
        for entry in entries:
            if (not isinstance(entry, dict) or entry.get("use", "sig") != "sig"
                    or entry.get("kty") not in ("RSA", "EC") or not isinstance(entry.get("kid"), str)):
                continue  # encryption keys, symmetric keys, keys without an id: never for verifying
            try:
                key = jwt.PyJWK(entry)
            except (PyJWKError, InvalidKeyError):
                continue
            if key.algorithm_name in self.algorithms:
                keys[entry["kid"]] = key
        if not keys:
            raise KeysUnavailableError(f"{self.jwks_url} publishes no signing key for "
                                       f"{', '.join(sorted(self.algorithms))}",
                                       reason=TokenFailure.KEYS_UNAVAILABLE, fix=fix)
        self._keys = (keys, now)
        return self._keys
