"""Token verification and authorisation decisions per second on one core.

Keys are made here; the realm's JWKS is served over loopback HTTP by an in-process server,
as Keycloak serves ``/protocol/openid-connect/certs``. Measured, with the process pinned to
one core: access tokens verified per second by ``TokenVerifier`` with its cached key set
(RS256, Keycloak's default, and ES256), the same plus building the ``Identity`` from the
claims, and ``authorize`` decisions per second over a mix of roles, actions and resources
(own, colleague's, another organisation's). Baseline in the same run: the same verifier
with no key cache (``cache_seconds=0``), fetching the key set for every token, which is what
verifying without a JWKS cache costs. Target (issue 11): >= 5,000 verifications/s.
Prints a table, then a final JSON line.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from heroes_core.identity import (
    APPLIES_TO,
    HEROES_ORGANISATION,
    PLATFORM_ROLES,
    Action,
    Identity,
    Resource,
    Role,
    TokenVerifier,
    authorize,
)

ISSUER, AUDIENCE, TARGET = "http://127.0.0.1/realms/heroes", "heroes-gateway", 5000


@contextmanager
def jwks_server(keys: list[dict[str, Any]]) -> Iterator[str]:
    body = json.dumps({"keys": keys}).encode()

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # as a real server does: no delayed-ACK stall per answer

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/realms/heroes/protocol/openid-connect/certs"
    finally:
        server.shutdown()
        server.server_close()


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second, run for about ``seconds``."""
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            operation()
        done += 50
    return done / elapsed


def tokens(private: Any, algorithm: str, kid: str, count: int = 200) -> list[str]:
    now = int(time.time())
    return [jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": f"user-{n}", "exp": now + 3600, "iat": now,
                        "typ": "Bearer", "preferred_username": f"user{n}", "organization": ["acme"],
                        "realm_access": {"roles": ["engineer", "offline_access"]},
                        "groups": ["/acme/projects/cfd"]},
                       private, algorithm=algorithm, headers={"kid": kid}) for n in range(count)]


def decisions(count: int = 2000) -> list[tuple[Identity, Action, Resource]]:
    """A mix of callers (every role), actions and resources: own, a colleague's, another organisation's."""
    cases = []
    for n, (role, action) in enumerate(itertools.product(Role, Action)):
        organisation = HEROES_ORGANISATION if role in PLATFORM_ROLES else "acme"
        identity = Identity(subject=f"s{n}", user="alice", organisation=organisation,
                            projects=frozenset({"cfd"}), roles=frozenset({role}))
        kind = sorted(APPLIES_TO[action])[0]
        for owner, where in (("alice", organisation), ("bob", organisation), ("carol", "globex")):
            cases.append((identity, action, Resource(kind=kind, organisation=where, owner=owner,
                                                     project="cfd", id="r")))
    return list(itertools.islice(itertools.cycle(cases), count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks = [{**RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "rsa", "use": "sig",
             "alg": "RS256"},
            {**ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "ec", "use": "sig",
             "alg": "ES256"}]
    rs256, es256 = tokens(rsa_key, "RS256", "rsa"), tokens(ec_key, "ES256", "ec")
    with (jwks_server(jwks) as url, TokenVerifier(ISSUER, AUDIENCE, url) as cached,
          TokenVerifier(ISSUER, AUDIENCE, url, cache_seconds=0) as uncached):
        rs, es, bare = itertools.cycle(rs256), itertools.cycle(es256), itertools.cycle(rs256)
        verify_rs = rate(lambda: cached.verify(next(rs)), args.seconds)
        verify_es = rate(lambda: cached.verify(next(es)), args.seconds)
        identities = rate(lambda: cached.identity(next(rs)), args.seconds)
        baseline = rate(lambda: uncached.verify(next(bare)), args.seconds)
        fetches = (cached.fetches, uncached.fetches)
    cases = itertools.cycle(decisions())
    authorize_rate = rate(lambda: authorize(*next(cases)), args.seconds)

    print(f"one core (cpu {core}); JWKS over loopback HTTP; {args.seconds:.1f} s per row")
    print(f"{'':<52}{'per s':>12}{'JWKS fetches':>14}")
    print(f"{'verify RS256, cached key set':<52}{verify_rs:>12.0f}{fetches[0]:>14}")
    print(f"{'verify ES256, cached key set':<52}{verify_es:>12.0f}{'':>14}")
    print(f"{'verify RS256 + Identity.from_claims, cached':<52}{identities:>12.0f}{'':>14}")
    print(f"{'baseline: verify RS256, key set fetched every time':<52}{baseline:>12.0f}{fetches[1]:>14}")
    print(f"{'authorize decisions (every role x action, 3 reaches)':<52}{authorize_rate:>12.0f}{'':>14}")
    print(f"target >= {TARGET} verifications/s: {'met' if verify_rs >= TARGET else 'NOT met'}; "
          f"cache speed-up over the baseline x{verify_rs / baseline:.1f}")
    print(json.dumps({"verify_per_s": round(verify_rs, 1),
                      "verify_per_s_es256": round(verify_es, 1),
                      "verify_and_identity_per_s": round(identities, 1),
                      "verify_per_s_no_cache_baseline": round(baseline, 1),
                      "authorize_per_s": round(authorize_rate, 1),
                      "verify_target_per_s": TARGET,
                      "verify_target_met": verify_rs >= TARGET}))


if __name__ == "__main__":
    main()
