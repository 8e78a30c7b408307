"""Token verification and authorisation decisions per second on one core, and the gateway's overhead.

Keys are made here; the realm's JWKS is served over loopback HTTP by an in-process server,
as Keycloak serves ``/protocol/openid-connect/certs``. Measured, with the process pinned to
one core: access tokens verified per second by ``TokenVerifier`` with its cached key set
(RS256, Keycloak's default, and ES256), the same plus building the ``Identity`` from the
claims, and ``authorize`` decisions per second over a mix of roles, actions and resources
(own, colleague's, another organisation's). Baseline in the same run: the same verifier
with no key cache (``cache_seconds=0``), fetching the key set for every token, which is what
verifying without a JWKS cache costs. Target (issue 11): >= 5,000 verifications/s.

Then, against the running test bed (it fails, never skips, when the test bed is not up): the
latency the HEROES gateway adds to "launch a run" and "list my runs". A fresh Keycloak realm
(deleted afterwards) with one engineer gives a real access token; the gateway
(``create_app``, served by uvicorn as ``heroes gateway`` serves it) runs in a child process
pinned to the other core, in front of the test bed's Prefect API; the client stays on the
pinned core; Prefect and Keycloak run where the test bed put them. A deployment of the
``run-job`` flow made for the benchmark, which nothing serves, takes the runs, so they stay
Scheduled; its runs and itself are deleted afterwards. Each iteration makes one call
through the gateway (``POST /v1/deployments/run-job/<deployment>/runs`` with a bearer
token; ``GET /v1/runs?limit=50``) and one straight to the Prefect API with the body the
gateway sends upstream (``POST /api/deployments/{id}/create_flow_run`` with the same
parameters, a grant issued beforehand and the owner tags; ``POST /api/flow_runs/filter``
with the same tag filter, sort and limit), alternating which goes first, each side over
its own persistent HTTP connection, after a few warm-up pairs. Reported: p50 and p99 of
each side, and two readings of what the gateway adds:

* *added* (the ``gateway_overhead_*`` keys): per request through the gateway, its whole
  time at the client minus the time the gateway spent waiting on Prefect inside that very
  request (the ``prefect`` entry of the gateway's ``Server-Timing`` header): the extra hop,
  the token check, the authorisation, the grant, the rewriting. Its p99 is the gateway's,
  not Prefect's;
* *gateway minus direct*, of each percentile: the same question asked of the two
  distributions. On the test bed its p99 mostly measures how differently Prefect's SQLite
  stalls (hundreds of ms, and 503s) fell on the two sides, so it is shown beside the first.

A pair in which Prefect answered 503 (its database busy; the gateway retries, then passes
it on as 502) is made again and counted as dropped. Target: gateway overhead p99 < 20 ms.
Prints two tables, then a final JSON line.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socket import socket
from typing import Any

import httpx
import jwt
from _testbed import register_blocks, testbed
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import SecretStr

from heroes_core.identity import (
    APPLIES_TO,
    HEROES_ORGANISATION,
    PLATFORM_ROLES,
    Action,
    Identity,
    IdentityAdmin,
    KeycloakSettings,
    Resource,
    Role,
    TokenVerifier,
    authorize,
    issue_grant,
    oidc,
)
from heroes_core.models import ImageRef, JobSpec

ISSUER, AUDIENCE, TARGET = "http://127.0.0.1/realms/heroes", "heroes-gateway", 5000
GATEWAY_TARGET_MS, RUN_JOB, LIST_LIMIT = 20.0, "run-job", 50
# Valid, and never run: nothing serves the benchmark's deployment.
SPEC = JobSpec(name="bench", image=ImageRef(path="/nonexistent/bench.tar.gz", digest="sha256:" + "0" * 64),
               command=["true"]).model_dump(mode="json")


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


# --- the gateway's overhead, on the test bed -------------------------------------------------


def reachable_testbed() -> tuple[str, dict[str, Any]]:
    """The test bed's Prefect API URL and Keycloak entry (with the admin password), or exit saying why."""
    info = testbed()
    prefect_api = str(info["prefect"]["api_url"]).rstrip("/")
    if "keycloak" not in info:
        raise SystemExit("the gateway measurement needs the test bed's Keycloak, and testbed.json has no "
                         "keycloak entry: run scripts/testbed.sh up")
    keycloak: dict[str, Any] = dict(info["keycloak"])
    for what, url in (("Prefect API", f"{prefect_api}/health"),
                      ("Keycloak", f"{keycloak['url']}/realms/{keycloak['admin_realm']}")):
        try:
            httpx.get(url, timeout=5).raise_for_status()
        except httpx.HTTPError as error:
            raise SystemExit(f"the gateway measurement needs the test bed, and its {what} did not answer "
                             f"GET {url} ({type(error).__name__}: {error}): run scripts/testbed.sh up"
                             ) from None
    try:
        keycloak["admin_password"] = Path(keycloak["admin_password_path"]).read_text().strip()
    except OSError as error:
        raise SystemExit(f"cannot read Keycloak's admin password ({error}): run the benchmark as the "
                         "user that runs the test bed") from None
    return prefect_api, keycloak


@dataclass
class Engineer:
    """A real user of a fresh realm: their access token, renewed before it expires."""

    settings: KeycloakSettings
    user: str
    password: str
    _tokens: oidc.Tokens | None = None

    def headers(self) -> dict[str, str]:
        if self._tokens is None or self._tokens.expires_at - time.time() < 60:
            self._tokens = oidc.password_grant(self.settings, self.user, self.password)
        return {"Authorization": f"Bearer {self._tokens.access_token}"}


@contextmanager
def engineer_realm(keycloak: dict[str, Any]) -> Iterator[Engineer]:
    """A realm ``bench-authz-<random>`` with one organisation and one engineer, deleted afterwards."""
    suffix = uuid.uuid4().hex[:6]
    settings = KeycloakSettings(server_url=keycloak["url"], realm=f"bench-authz-{suffix}",
                                admin_realm=keycloak["admin_realm"], admin_user=keycloak["admin_user"],
                                admin_password=SecretStr(keycloak["admin_password"]))
    admin = IdentityAdmin(settings)
    organisation, engineer = f"bench{suffix}", Engineer(settings, "alice", secrets.token_urlsafe(16))
    try:
        admin.ensure_realm(direct_access_grants=True)
        admin.ensure_organisation(organisation)
        admin.ensure_user(organisation, engineer.user, roles=(Role.ENGINEER,),
                          email=f"alice@{organisation}.example", first_name="Alice", last_name="Bench",
                          password=SecretStr(engineer.password))
        yield engineer
    finally:
        admin.delete_realm()


def serve_gateway(port: int, core: int, prefect_api: str, keycloak: KeycloakSettings, grant_key: str,
                  log: str) -> None:
    """The child process: the gateway as ``heroes gateway`` serves it, on ``core``, logging to ``log``."""
    os.sched_setaffinity(0, {core})
    sys.stdout = sys.stderr = open(log, "a", buffering=1)  # noqa: SIM115 (the process's whole life)

    from heroes.gateway import GatewaySettings, create_app, serve

    settings = GatewaySettings(prefect_api_url=prefect_api, public_url=f"http://127.0.0.1:{port}")
    app = create_app(settings, keycloak=keycloak, verifier=keycloak.verifier(), grant_key=grant_key)
    serve(app, host="127.0.0.1", port=port)


@contextmanager
def gateway_process(core: int, prefect_api: str, keycloak: KeycloakSettings, grant_key: str) -> Iterator[str]:
    """The gateway's URL, served by a child process on a free loopback port until the block ends."""
    with socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as folder:
        log = str(Path(folder) / "gateway.log")
        child = multiprocessing.get_context("spawn").Process(
            target=serve_gateway, args=(port, core, prefect_api, keycloak, grant_key, log), daemon=True)
        child.start()
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if not child.is_alive() or time.monotonic() > deadline:
                    tail = Path(log).read_text()[-3000:] if Path(log).exists() else ""
                    raise SystemExit(f"the gateway did not start on {url}:\n{tail}")
                time.sleep(0.1)
            yield url
        finally:
            child.terminate()
            child.join(10)
            if child.is_alive():
                child.kill()
                child.join()


def grant_key() -> str:
    """The test bed's grant key (Secret block ``heroes-grant-key``; the test bed's blocks are registered
    if it is missing)."""
    from prefect.blocks.system import Secret

    from heroes.blocks.defaults import DEFAULT_GRANT_KEY

    try:
        secret = Secret.load(DEFAULT_GRANT_KEY)
    except ValueError:  # no such block yet
        register_blocks()
        secret = Secret.load(DEFAULT_GRANT_KEY)
    return str(secret.get())  # type: ignore[union-attr]


@contextmanager
def bench_deployment(prefect: httpx.Client) -> Iterator[dict[str, Any]]:
    """A deployment ``run-job/bench-<random>`` that nothing serves; it and its runs are deleted after."""
    from prefect.deployments.runner import RunnerDeployment

    from heroes.flows import run_job_granted

    name = f"bench-{uuid.uuid4().hex[:8]}"
    deployment_id = RunnerDeployment.from_flow(
        run_job_granted, name=name, tags=["heroes", "bench"],
        description="benchmarks/authz.py: nothing serves it; its runs are deleted after the run").apply()
    try:
        found = prefect.get(f"/deployments/{deployment_id}")
        found.raise_for_status()
        yield found.json()
    finally:
        for _ in range(1000):  # 200 runs a round; bounded, should a run refuse to go
            runs = settled(lambda: prefect.post("/flow_runs/filter", json={
                "flow_runs": {"deployment_id": {"any_": [str(deployment_id)]}}, "limit": 200})).json()
            if not runs:
                break
            for run in runs:
                settled(partial(prefect.delete, f"/flow_runs/{run['id']}"))
        settled(lambda: prefect.delete(f"/deployments/{deployment_id}")).raise_for_status()


def settled(send: Callable[[], httpx.Response], attempts: int = 20) -> httpx.Response:
    """``send``'s answer, sent again while Prefect answers 503 (its database busy)."""
    for _ in range(attempts - 1):
        response = send()
        if response.status_code != 503:
            return response
        time.sleep(0.5)
    return send()


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 of ``samples``."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples), cuts[98]


# Prefect answers 503 when its database is busy (SQLite locked by another writer); the gateway
# then answers 502. A pair with such an answer is not a latency: it is dropped and made again.
UNAVAILABLE = frozenset({502, 503})
UNAVAILABLE_ANSWERS: list[str] = []


Sample = tuple[float, float]  # milliseconds for a call, and the gateway's own share of them (0 direct)


def interleaved(gateway: Callable[[], Sample | None], direct: Callable[[], Sample | None], iterations: int,
                warmup: int) -> tuple[list[Sample], list[Sample], int]:
    """Milliseconds per call of each side, calls alternated, which side goes first alternating too;
    and how many pairs were dropped because Prefect was unavailable."""
    through: list[Sample] = []
    straight: list[Sample] = []
    n = dropped = 0
    while n < warmup + iterations:
        first, second = (gateway, direct) if n % 2 == 0 else (direct, gateway)
        one, other = first(), second()
        if one is None or other is None:
            dropped += 1
            if dropped > 10 + iterations // 2:
                raise SystemExit(f"the Prefect API was unavailable (503) for {dropped} call pairs: the test "
                                 "bed's Prefect is overloaded, measure again when it is quieter; the last "
                                 "answers:\n" + "\n".join(UNAVAILABLE_ANSWERS[-5:]))
            time.sleep(0.5)
            continue
        if n >= warmup:
            through.append(one if n % 2 == 0 else other)
            straight.append(other if n % 2 == 0 else one)
        n += 1
    return through, straight, dropped


def prefect_ms(response: httpx.Response) -> float:
    """The milliseconds the gateway says it waited on Prefect for this answer (Server-Timing)."""
    for part in response.headers.get("server-timing", "").split(","):
        name, _, duration = part.strip().partition(";dur=")
        if name == "prefect":
            return float(duration)
    raise SystemExit("the gateway's answer has no Server-Timing entry named prefect")


def timed(client: httpx.Client, method: str, path: str, status: int, *, through_gateway: bool = False,
          **request: Any) -> Sample | None:
    """Milliseconds for one call and its whole answer, and the gateway's own share of them (the
    whole time minus its wait on Prefect; 0 straight to Prefect); None if Prefect was
    unavailable; any other status than ``status`` ends the run."""
    started = time.perf_counter()
    response = client.request(method, path, **request)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code in UNAVAILABLE:
        UNAVAILABLE_ANSWERS.append(f"{method} {path} -> {response.status_code} after {elapsed:.0f} ms: "
                                   f"{response.text[:200]}")
        return None
    if response.status_code != status:
        raise SystemExit(f"{method} {response.request.url} answered {response.status_code}, not {status}: "
                         f"{response.text[:500]}")
    return elapsed, (elapsed - prefect_ms(response) if through_gateway else 0.0)


def gateway_overhead(prefect_api: str, keycloak: dict[str, Any], core: int, iterations: int,
                     warmup: int) -> dict[str, tuple[list[Sample], list[Sample], int]]:
    """Per call ("launch", "list"): the milliseconds through the gateway, straight to Prefect, and
    how many pairs were dropped (Prefect unavailable)."""
    from heroes.gateway.ownership import listing_tags, owner_tags

    key = grant_key()
    with (engineer_realm(keycloak) as engineer, httpx.Client(base_url=prefect_api, timeout=30) as prefect,
          bench_deployment(prefect) as deployment,
          gateway_process(core, prefect_api, engineer.settings, key) as gateway_url,
          httpx.Client(base_url=gateway_url, timeout=30) as gateway):
        with engineer.settings.verifier() as verifier:
            identity = verifier.identity(engineer.headers()["Authorization"].removeprefix("Bearer "))
        full_name = f"{RUN_JOB}/{deployment['name']}"
        # What the gateway sends upstream (heroes.gateway.launch.Launcher.prepare), grant issued here.
        parameters = {**(deployment.get("parameters") or {}), "spec": SPEC}
        grant = issue_grant(identity, Action.SUBMIT_WORKFLOW, full_name, parameters, key)
        create = {"parameters": {**parameters, "grant": grant}, "tags": owner_tags(identity, None)}
        listing = {"flow_runs": {"operator": "and_",
                                 "tags": {"operator": "and_", "all_": listing_tags(identity)}},
                   "sort": "EXPECTED_START_TIME_DESC", "limit": LIST_LIMIT, "offset": 0}
        # The token's header is made (and the token renewed when due) before each timed call.
        launch = interleaved(
            lambda: timed(gateway, "POST", f"/v1/deployments/{full_name}/runs", 201, through_gateway=True,
                          json={"parameters": {"spec": SPEC}}, headers=engineer.headers()),
            lambda: timed(prefect, "POST", f"/deployments/{deployment['id']}/create_flow_run", 201,
                          json=create),
            iterations, warmup)
        listed = interleaved(
            lambda: timed(gateway, "GET", "/v1/runs", 200, through_gateway=True, params={"limit": LIST_LIMIT},
                          headers=engineer.headers()),
            lambda: timed(prefect, "POST", "/flow_runs/filter", 200, json=listing),
            iterations, warmup)
        # Same answer both ways: the same runs, in the same order.
        through = [run["id"] for run in gateway.get("/v1/runs", params={"limit": LIST_LIMIT},
                                                    headers=engineer.headers()).json()]
        straight = [run["id"] for run in prefect.post("/flow_runs/filter", json=listing).json()]
        if through != straight or not through:
            raise SystemExit(f"the gateway listed {len(through)} runs, the Prefect API {len(straight)}, "
                             "or not the same ones: the two calls are not equivalent")
    return {"launch": launch, "list": listed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument("--iterations", type=int, default=300,
                        help="gateway/direct call pairs per call measured (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=20, help="gateway/direct call pairs not measured")
    args = parser.parse_args()
    if args.iterations < 2:
        parser.error("--iterations must be at least 2")
    prefect_api, keycloak = reachable_testbed()  # before anything else: fail early, loudly
    os.environ["PREFECT_API_URL"] = prefect_api  # Prefect reads it on import
    available = os.sched_getaffinity(0)
    core = min(available)
    os.sched_setaffinity(0, {core})
    gateway_core = min(available - {core}, default=core)
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
    load = os.getloadavg()[0]  # the test bed shares the machine: say how busy it was
    samples = gateway_overhead(prefect_api, keycloak, gateway_core, args.iterations, args.warmup)

    print(f"one core (cpu {core}); JWKS over loopback HTTP; {args.seconds:.1f} s per row")
    print(f"{'':<52}{'per s':>12}{'JWKS fetches':>14}")
    print(f"{'verify RS256, cached key set':<52}{verify_rs:>12.0f}{fetches[0]:>14}")
    print(f"{'verify ES256, cached key set':<52}{verify_es:>12.0f}{'':>14}")
    print(f"{'verify RS256 + Identity.from_claims, cached':<52}{identities:>12.0f}{'':>14}")
    print(f"{'baseline: verify RS256, key set fetched every time':<52}{baseline:>12.0f}{fetches[1]:>14}")
    print(f"{'authorize decisions (every role x action, 3 reaches)':<52}{authorize_rate:>12.0f}{'':>14}")
    print(f"target >= {TARGET} verifications/s: {'met' if verify_rs >= TARGET else 'NOT met'}; "
          f"cache speed-up over the baseline x{verify_rs / baseline:.1f}")
    print()
    print(f"gateway vs straight to the Prefect API ({prefect_api}): {args.iterations} interleaved pairs "
          f"per call after {args.warmup} warm-up; client on cpu {core}, gateway on cpu {gateway_core}; "
          f"load average {load:.1f} of {len(available)} cpus")
    print(f"{'ms':<26}{'gateway p50':>12}{'direct p50':>11}{'added p50':>10}{'g-d p50':>9}"
          f"{'gateway p99':>12}{'direct p99':>11}{'added p99':>10}{'g-d p99':>9}{'dropped':>9}")
    overhead: dict[str, dict[str, float]] = {}
    for call, label in (("launch", "launch a run"), ("list", f"list my runs ({LIST_LIMIT})")):
        through, straight, dropped = samples[call]
        (g50, g99), (d50, d99) = percentiles([t for t, _ in through]), percentiles([t for t, _ in straight])
        a50, a99 = percentiles([own for _, own in through])
        overhead[call] = {"gateway_p50": g50, "direct_p50": d50, "p50": a50, "minus_direct_p50": g50 - d50,
                          "gateway_p99": g99, "direct_p99": d99, "p99": a99, "minus_direct_p99": g99 - d99,
                          "dropped": dropped}
        print(f"{label:<26}{g50:>12.2f}{d50:>11.2f}{a50:>10.2f}{g50 - d50:>9.2f}"
              f"{g99:>12.2f}{d99:>11.2f}{a99:>10.2f}{g99 - d99:>9.2f}{dropped:>9}")
    print("added: per call through the gateway, its time minus the gateway's wait on Prefect in it; "
          "g-d: gateway minus direct, of each percentile")
    met = all(figures["p99"] < GATEWAY_TARGET_MS for figures in overhead.values())
    print(f"target gateway overhead p99 < {GATEWAY_TARGET_MS:.0f} ms: {'met' if met else 'NOT met'}")
    print(json.dumps({"verify_per_s": round(verify_rs, 1),
                      "verify_per_s_es256": round(verify_es, 1),
                      "verify_and_identity_per_s": round(identities, 1),
                      "verify_per_s_no_cache_baseline": round(baseline, 1),
                      "authorize_per_s": round(authorize_rate, 1),
                      "verify_target_per_s": TARGET,
                      "verify_target_met": verify_rs >= TARGET,
                      **{f"gateway_overhead_{percentile}_ms_{call}": round(figures[percentile], 2)
                         for call, figures in overhead.items() for percentile in ("p50", "p99")},
                      **{f"{side}_{percentile}_ms_{call}": round(figures[f"{side}_{percentile}"], 2)
                         for call, figures in overhead.items() for side in ("gateway", "direct")
                         for percentile in ("p50", "p99")},
                      **{f"gateway_minus_direct_{percentile}_ms_{call}":
                         round(figures[f"minus_direct_{percentile}"], 2)
                         for call, figures in overhead.items() for percentile in ("p50", "p99")},
                      **{f"gateway_pairs_dropped_{call}": figures["dropped"]
                         for call, figures in overhead.items()},
                      "gateway_iterations": args.iterations,
                      "gateway_overhead_target_p99_ms": GATEWAY_TARGET_MS,
                      "gateway_overhead_target_met": met}))


if __name__ == "__main__":
    main()
