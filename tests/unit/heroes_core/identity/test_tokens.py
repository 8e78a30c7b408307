"""TokenVerifier against keys made here and a key set served in-process (httpx.MockTransport).

Only the fetch is swapped: the verifier builds the same httpx client and parses the same
answer it would from Keycloak's ``/protocol/openid-connect/certs``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from heroes_core.errors import HeroesError
from heroes_core.identity import Identity, KeysUnavailableError, Role, TokenError, TokenFailure, TokenVerifier

ISSUER = "http://127.0.0.1:8180/realms/heroes"
AUDIENCE = "heroes-gateway"
JWKS_URL = f"{ISSUER}/protocol/openid-connect/certs"


class Keys:
    """A signing key with its kid, and its public JWK."""

    def __init__(self, kid: str, algorithm: str = "RS256") -> None:
        self.kid, self.algorithm = kid, algorithm
        if algorithm == "RS256":
            self.private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            self.jwk = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk.update({"kid": kid, "use": "sig", "alg": algorithm})

    def sign(self, claims: dict[str, Any], **headers: Any) -> str:
        return jwt.encode(claims, self.private, algorithm=self.algorithm, headers={"kid": self.kid, **headers})

    def public_pem(self) -> bytes:
        return bytes(self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                            serialization.PublicFormat.SubjectPublicKeyInfo))


class FakeKeycloak:
    """The realm's JWKS endpoint: the keys it publishes can change, and it can fail."""

    def __init__(self, *keys: Keys) -> None:
        self.published: list[dict[str, Any]] = [key.jwk for key in keys]
        self.requests = 0
        self.fail: httpx.Response | Exception | None = None

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert str(request.url) == JWKS_URL
        self.requests += 1
        if isinstance(self.fail, Exception):
            raise self.fail
        if self.fail is not None:
            return self.fail
        return httpx.Response(200, json={"keys": self.published})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def rsa_key() -> Keys:
    return Keys("rsa-1")


@pytest.fixture(scope="module")
def ec_key() -> Keys:
    return Keys("ec-1", "ES256")


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "5f1c", "exp": now + 300, "iat": now, "nbf": now,
            "typ": "Bearer", "preferred_username": "alice", "organization": ["acme"],
            "realm_access": {"roles": ["engineer"]}}
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def verifier(keycloak: FakeKeycloak, clock: Clock | None = None, **options: Any) -> TokenVerifier:
    return TokenVerifier(ISSUER, AUDIENCE, JWKS_URL, transport=httpx.MockTransport(keycloak.handle),
                         clock=clock or Clock(), **options)


def refusal(check: TokenVerifier, token: str) -> TokenError:
    with pytest.raises(TokenError) as raised:
        check.verify(token)
    assert isinstance(raised.value, HeroesError)
    return raised.value


def test_valid_rsa_and_ec_tokens_with_one_fetch(rsa_key: Keys, ec_key: Keys) -> None:
    keycloak = FakeKeycloak(rsa_key, ec_key)
    with verifier(keycloak) as check:
        for _ in range(3):
            assert check.verify(rsa_key.sign(claims()))["sub"] == "5f1c"
            assert check.verify(ec_key.sign(claims()))["sub"] == "5f1c"
    assert keycloak.requests == 1
    assert check.identity(rsa_key.sign(claims())) == Identity(subject="5f1c", user="alice",
                                                              organisation="acme",
                                                              roles=frozenset({Role.ENGINEER}))


# Times are offsets from the moment the test runs (a value taken at collection would age
# while a long session runs the tests before it).
@pytest.mark.parametrize(("overrides", "reason"), [
    ({"exp": -120}, TokenFailure.EXPIRED),
    ({"nbf": 600}, TokenFailure.NOT_YET_VALID),
    ({"iss": "http://127.0.0.1:8180/realms/other"}, TokenFailure.WRONG_ISSUER),
    ({"aud": "someone-else"}, TokenFailure.WRONG_AUDIENCE),
    ({"exp": None}, TokenFailure.MALFORMED),
    ({"typ": "ID"}, TokenFailure.MALFORMED),
])
def test_refused_claims(rsa_key: Keys, overrides: dict[str, Any], reason: TokenFailure) -> None:
    now = int(time.time())
    timed = {name: now + value for name, value in overrides.items()
             if name in ("exp", "nbf") and isinstance(value, int)}
    error = refusal(verifier(FakeKeycloak(rsa_key)), rsa_key.sign(claims(**{**overrides, **timed})))
    assert error.reason is reason and error.http_status == 401 and error.fix


def test_a_small_clock_skew_is_tolerated(rsa_key: Keys) -> None:
    check = verifier(FakeKeycloak(rsa_key))
    now = int(time.time())
    assert check.verify(rsa_key.sign(claims(exp=now - 5, nbf=now + 5)))
    strict = verifier(FakeKeycloak(rsa_key), leeway=0)
    assert refusal(strict, rsa_key.sign(claims(exp=now - 5))).reason is TokenFailure.EXPIRED


def test_a_tampered_token(rsa_key: Keys) -> None:
    header, _payload, signature = rsa_key.sign(claims()).split(".")
    forged = base64.urlsafe_b64encode(json.dumps(claims(organization=["globex"])).encode()).rstrip(b"=")
    error = refusal(verifier(FakeKeycloak(rsa_key)), f"{header}.{forged.decode()}.{signature}")
    assert error.reason is TokenFailure.BAD_SIGNATURE
    other = Keys("rsa-1")  # same kid, another private key
    assert refusal(verifier(FakeKeycloak(rsa_key)), other.sign(claims())).reason is TokenFailure.BAD_SIGNATURE


def _unsigned(header: dict[str, Any], payload: dict[str, Any]) -> bytes:
    def part(value: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")
    return part(header) + b"." + part(payload)


def test_alg_none_is_refused(rsa_key: Keys) -> None:
    token = _unsigned({"alg": "none", "typ": "JWT", "kid": "rsa-1"}, claims()).decode() + "."
    keycloak = FakeKeycloak(rsa_key)
    assert refusal(verifier(keycloak), token).reason is TokenFailure.BAD_ALGORITHM
    assert keycloak.requests == 0


def test_hs256_signed_with_the_public_key_is_refused(rsa_key: Keys) -> None:
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims())
    mac = hmac.new(rsa_key.public_pem(), signing_input, hashlib.sha256).digest()
    token = (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()
    assert refusal(verifier(FakeKeycloak(rsa_key)), token).reason is TokenFailure.BAD_ALGORITHM
    with pytest.raises(ValueError, match="HS256"):
        TokenVerifier(ISSUER, AUDIENCE, JWKS_URL, algorithms=["RS256", "HS256"])
    with pytest.raises(ValueError, match="none"):
        TokenVerifier(ISSUER, AUDIENCE, JWKS_URL, algorithms=["none"])


def test_a_key_is_used_only_with_its_own_algorithm(rsa_key: Keys, ec_key: Keys) -> None:
    ec_signed_with_rsa_kid = jwt.encode(claims(), ec_key.private, algorithm="ES256", headers={"kid": "rsa-1"})
    error = refusal(verifier(FakeKeycloak(rsa_key, ec_key)), ec_signed_with_rsa_kid)
    assert error.reason is TokenFailure.BAD_ALGORITHM


def test_symmetric_and_encryption_keys_in_the_set_are_ignored(rsa_key: Keys) -> None:
    keycloak = FakeKeycloak(rsa_key)
    secret = base64.urlsafe_b64encode(rsa_key.public_pem()).rstrip(b"=").decode()
    keycloak.published += [{"kty": "oct", "kid": "hs", "k": secret, "alg": "HS256"},
                           {**rsa_key.jwk, "kid": "enc-1", "use": "enc", "alg": "RSA-OAEP"}]
    check = verifier(keycloak, refetch_interval=0)
    for kid in ("hs", "enc-1"):
        token = _unsigned({"alg": "RS256", "kid": kid}, claims()).decode() + ".c2ln"
        assert refusal(check, token).reason is TokenFailure.UNKNOWN_KEY
    assert check.verify(rsa_key.sign(claims()))


def test_rotation_is_picked_up_and_a_removed_key_stops_verifying(rsa_key: Keys, ec_key: Keys) -> None:
    keycloak, clock = FakeKeycloak(rsa_key), Clock()
    check = verifier(keycloak, clock, refetch_interval=10)
    assert check.verify(rsa_key.sign(claims()))
    keycloak.published = [ec_key.jwk]  # Keycloak rotated: new key in, old key out
    clock.now += 1
    assert check.verify(ec_key.sign(claims()))  # unknown kid: one refetch, no new verifier
    assert keycloak.requests == 2
    assert refusal(check, rsa_key.sign(claims())).reason is TokenFailure.UNKNOWN_KEY
    assert keycloak.requests == 2  # the set was just fetched: no second refetch yet
    clock.now += 10
    assert refusal(check, rsa_key.sign(claims())).reason is TokenFailure.UNKNOWN_KEY
    assert keycloak.requests == 3


def test_made_up_key_ids_cannot_hammer_the_identity_provider(rsa_key: Keys) -> None:
    keycloak, clock = FakeKeycloak(rsa_key), Clock()
    check = verifier(keycloak, clock, refetch_interval=10)
    check.verify(rsa_key.sign(claims()))
    for n in range(50):
        refusal(check, rsa_key.sign(claims(), kid=f"made-up-{n}"))
    assert keycloak.requests == 2
    clock.now += 300  # the cache's lifetime: the set is fetched again on the next token
    assert check.verify(rsa_key.sign(claims()))
    assert keycloak.requests == 3


@pytest.mark.parametrize(("failure", "words"), [
    (httpx.Response(500, text="oops"), "answered 500"),
    (httpx.ConnectError("connection refused"), "ConnectError"),
    (httpx.Response(200, text="<html>"), "JSONDecodeError"),
    (httpx.Response(200, json={"nokeys": []}), "did not answer a JSON Web Key Set"),
    (httpx.Response(200, json={"keys": [{"kty": "oct", "kid": "x", "k": "c2VjcmV0"}]}), "no signing key"),
])
def test_a_key_set_that_cannot_be_fetched_is_a_clear_error(rsa_key: Keys, failure: Any, words: str) -> None:
    keycloak = FakeKeycloak(rsa_key)
    keycloak.fail = failure
    error = refusal(verifier(keycloak), rsa_key.sign(claims()))
    assert isinstance(error, KeysUnavailableError) and error.http_status == 503
    assert error.reason is TokenFailure.KEYS_UNAVAILABLE
    assert JWKS_URL in str(error) and words in str(error)


def test_an_expired_cache_that_cannot_be_refreshed_fails_closed(rsa_key: Keys) -> None:
    keycloak, clock = FakeKeycloak(rsa_key), Clock()
    check = verifier(keycloak, clock)
    assert check.verify(rsa_key.sign(claims()))
    keycloak.fail = httpx.ConnectError("down")
    clock.now += 301
    with pytest.raises(KeysUnavailableError):
        check.verify(rsa_key.sign(claims()))
    keycloak.fail = None
    assert check.verify(rsa_key.sign(claims()))


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "e30.e30.",
                                   _unsigned({"alg": ["RS256"], "kid": "rsa-1"}, {}).decode() + ".c2ln",
                                   _unsigned({"alg": "RS256", "kid": {"a": 1}}, {}).decode() + ".c2ln"])
def test_garbage_is_malformed(rsa_key: Keys, token: str) -> None:
    keycloak = FakeKeycloak(rsa_key)
    error = refusal(verifier(keycloak), token)
    assert error.reason in (TokenFailure.MALFORMED, TokenFailure.BAD_ALGORITHM)
    assert keycloak.requests == 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit"]),
                              st.none() | st.text(max_size=8) | st.integers() | st.lists(st.text(max_size=3))),
       tail=st.text(alphabet="abcXYZ019-_.", max_size=20))
def test_any_header_gives_a_token_error_and_nothing_else(rsa_key: Keys, header: dict[str, Any],
                                                         tail: str) -> None:
    with pytest.raises(TokenError):
        verifier(FakeKeycloak(rsa_key)).verify(_unsigned(header, claims()).decode() + "." + tail)
