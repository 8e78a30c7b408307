"""The gateway's published API, property-tested (schemathesis) with valid, expired and foreign tokens.

Every operation of ``/openapi.json``, as the running gateway publishes it, gets generated
requests (schemathesis' examples, coverage and fuzzing phases); each request is sent as:

* ``alice`` (engineer of acme, who launched the one run in this module): never a 5xx, and
  every 2xx answer conforms to the published schema;
* ``bob`` (engineer of umbrella, another organisation): never a 5xx, and nothing of acme's
  ever in an answer: not its organisation's name, not alice's run id, not ``alice``, unless
  bob's own request carried that string (an error message may echo what it was sent);
* ``expired``: alice's own Keycloak access token, once it has expired;
* ``foreign``: alice's claims (the realm's issuer and audience, her organisation and roles)
  signed with an RSA key made here, under a made-up key id;
* ``forged``: the same, under the key id of the realm's real signing key;

the last three answer 401 with the ``reason`` of the refusal (and nothing of acme's) on
every operation that needs a token. Requests naming a run or a workflow are sent again
naming alice's run, the same run by a path that climbs out of ``/v1`` towards Prefect's
API (``../../api/flow_runs/<id>``), and ``run-job/run-job``, so the cross-organisation
checks meet real data and not only ids nobody has.

The expired token is a real one: Keycloak issues it with a one-second lifetime (set on the
login client of this module's own realm just for that login, then set back), and the test
waits until it has expired. The gateway under test trusts tokens for 30 s past their
expiry (its verifier's clock-skew leeway), and waiting that long would double the run
time, so the expired token goes to a second gateway, identical (same realm, same Prefect,
same grant key) except that its verifier has no leeway; every other caller uses the
``gateway`` fixture as configured.

``run-job/run-job`` is registered here (as ``python -m heroes.deployments`` does) but not
served, so alice's run stays Scheduled and nothing depends on a runner or on what earlier
runs left; every run of this module's two organisations is deleted at the end.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import httpx
import jwt
import pytest
import schemathesis
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from heroes_core.errors import TokenError, TokenFailure
from heroes_core.identity import IdentityAdmin, KeycloakSettings, oidc

RUN_JOB = ("run-job", "run-job")
# Where the published API names a run or a workflow in its path.
RUN_PARAMETER = "run_id"
WORKFLOW_PARAMETERS = ("flow", "deployment")


@dataclass(frozen=True)
class Caller:
    """Who sends a request: their Authorization header, the gateway they use, what they must get."""

    name: str
    authorization: str
    client: Any  # a fastapi TestClient
    refused_for: TokenFailure | None = None  # the 401 reason every authenticated operation gives them
    owner: bool = False  # alice: her own data is hers to see


@pytest.fixture(scope="module")
def run_job(blocks: dict[str, str]) -> None:
    """``run-job/run-job`` registered as the runner registers it, without anything serving it."""
    from heroes.deployments import take_over, user_deployments

    wanted = [deployment for deployment in user_deployments() if deployment.name == RUN_JOB[1]]
    take_over(wanted, replace=True)
    for deployment in wanted:
        deployment.apply()


def _delete_runs_of(organisations: list[str]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    with get_client(sync_client=True) as client:
        for organisation in organisations:
            tags = FlowRunFilterTags(all_=[f"heroes-org:{organisation}"])
            for run in client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=tags), limit=200):
                client.delete_flow_run(run.id)


@pytest.fixture(scope="module")
def alices_run(gateway: Any, tenants: Any, image: dict[str, str], run_job: None) -> Iterator[dict[str, Any]]:
    """One run-job run alice launched through the gateway (project p1), left Scheduled."""
    response = gateway.post(f"/v1/deployments/{RUN_JOB[0]}/{RUN_JOB[1]}/runs", headers=tenants.headers("alice"),
                            json={"parameters": {"spec": {"image": image, "command": ["true"],
                                                          "time_limit_minutes": 5}},
                                  "project": "p1", "name": f"openapi-{uuid.uuid4().hex[:8]}"})
    assert response.status_code == 201, response.text
    run: dict[str, Any] = response.json()
    assert (run["organisation"], run["user"], run["state"]) == \
        (tenants.organisations["acme"], "alice", "SCHEDULED"), run
    try:
        yield run
    finally:
        # Everything this module's organisations launched (their names are unique to its realm).
        _delete_runs_of([tenants.organisations["acme"], tenants.organisations["umbrella"]])


def expired_token(tenants: Any) -> str:
    """A real access token of alice's, issued by Keycloak with a 1 s lifetime, once it has expired."""
    settings_ = tenants.settings
    admin = IdentityAdmin(settings_).kc
    client_uuid = admin.get_client_id(settings_.cli_client_id)
    client = admin.get_client(client_uuid)
    attributes = dict(client.get("attributes") or {})
    admin.update_client(client_uuid, {**client, "attributes": {**attributes, "access.token.lifespan": "1"}})
    try:
        token = oidc.password_grant(settings_, "alice", tenants.password("alice")).access_token
    finally:
        admin.update_client(client_uuid, {**client, "attributes": {
            **attributes, "access.token.lifespan": attributes.get("access.token.lifespan", "")}})
    restored = jwt.decode(oidc.password_grant(settings_, "bill", tenants.password("bill")).access_token,
                          options={"verify_signature": False})
    assert restored["exp"] - restored["iat"] > 60, "the login client's token lifetime was not set back"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 1, claims
    time.sleep(max(0.0, claims["exp"] + 1 - time.time()))
    # Genuine (Keycloak's signature, the realm's issuer and audience) and expired, nothing else.
    assert settings_.verifier(leeway=3600).identity(token).user == "alice"
    with pytest.raises(TokenError) as refused:
        settings_.verifier(leeway=0).verify(token)
    assert refused.value.reason is TokenFailure.EXPIRED
    return token


def signed_elsewhere(token: str, kid: str) -> str:
    """``token``'s claims, fresh, signed with a new RSA key under ``kid``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {**jwt.decode(token, options={"verify_signature": False}), "iat": now, "exp": now + 3600,
              "jti": str(uuid.uuid4())}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
def strict_gateway(tenants: Any, testbed: dict[str, Any]) -> Iterator[Any]:
    """The same gateway as ``gateway``, except that its verifier allows no clock skew past ``exp``."""
    from fastapi.testclient import TestClient

    from heroes.gateway import GatewaySettings, create_app
    from tests.integration.grants import grant_key

    app = create_app(GatewaySettings(prefect_api_url=testbed["prefect"]["api_url"]),
                     keycloak=tenants.settings, verifier=tenants.settings.verifier(leeway=0),
                     grant_key=grant_key())
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def callers(tenants: Any, gateway: Any, strict_gateway: Any) -> list[Caller]:
    alice, bob = tenants.token("alice"), tenants.token("bob")  # issued (and cached) before the expired one
    realm_kid = jwt.get_unverified_header(alice)["kid"]
    # alice last: a way in for the others shows as that, not as a schema mismatch in alice's answer
    return [
        Caller("bob", f"Bearer {bob}", gateway),
        Caller("expired", f"Bearer {expired_token(tenants)}", strict_gateway, TokenFailure.EXPIRED),
        Caller("foreign", f"Bearer {signed_elsewhere(alice, f'made-up-{uuid.uuid4().hex}')}", gateway,
               TokenFailure.UNKNOWN_KEY),
        Caller("forged", f"Bearer {signed_elsewhere(alice, realm_kid)}", gateway, TokenFailure.BAD_SIGNATURE),
        Caller("alice", f"Bearer {alice}", gateway, owner=True),
    ]


def published_schema() -> dict[str, Any]:
    """The OpenAPI document ``create_app`` publishes: its routes and models, which no setting changes.

    Schemathesis makes one test per operation when the module is collected, before any fixture
    exists, so the document comes from an app built here with placeholder settings (never
    called); ``published`` then checks that the gateway under test serves exactly this one.
    """
    from heroes.gateway import GatewaySettings, create_app
    from heroes_core.catalog import ApplicationCatalogue
    from heroes_core.catalog.service import ApplicationService
    from heroes_core.data import Archive, DataService, Quotas, S3Endpoint
    from heroes_core.store import Database

    keycloak = KeycloakSettings(server_url="http://keycloak.invalid", admin_password=SecretStr("unused"))
    unused = Database("sqlite://")
    data = DataService(Archive(S3Endpoint(endpoint_url="http://s3.invalid", access_key_id="unused",
                                          secret_access_key=SecretStr("unused"))), Quotas(unused))
    app = create_app(GatewaySettings(prefect_api_url="http://prefect.invalid/api"), keycloak=keycloak,
                     verifier=keycloak.verifier(), grant_key="unused", data=data,
                     apps=ApplicationService(ApplicationCatalogue(unused), data.archive, data))
    return app.openapi()


PUBLISHED = published_schema()
schema = schemathesis.openapi.from_dict(PUBLISHED)


@pytest.fixture(scope="module")
def published(gateway: Any) -> None:
    """The gateway under test publishes at /openapi.json the schema the tests were generated from."""
    answer = gateway.get("/openapi.json")
    assert answer.status_code == 200, answer.text
    assert answer.json() == PUBLISHED


def send(caller: Caller, case: Any) -> httpx.Response:
    """``case`` as ``caller`` sends it (redirects not followed: a redirect is an answer too)."""
    client = caller.client
    sent = case.as_transport_kwargs(base_url=str(client.base_url), headers={"Authorization": caller.authorization})
    body: dict[str, Any] = {}
    if "json" in sent:
        body["json"] = sent["json"]
    elif isinstance(sent.get("data"), dict):
        body["data"] = sent["data"]
    elif sent.get("data") is not None:
        body["content"] = sent["data"]
    assert "files" not in sent, f"a multipart request is not expected by this API: {case!r}"
    client.cookies.clear()  # nothing a previous answer set (the login cookie) rides along
    return client.request(sent["method"], sent["url"], params=sent.get("params"),
                          headers={key: str(value) for key, value in sent["headers"].items()},
                          follow_redirects=False, **body)


def variants(case: Any, run_id: str) -> list[Any]:
    """``case`` itself, then naming alice's run (directly, and by climbing out of /v1), or run-job."""
    found = [case]
    if RUN_PARAMETER in case.path_parameters:
        # Path parameters go into the URL as they are: schemathesis percent-encodes generated ones.
        for value in (run_id, quote(f"../../api/flow_runs/{run_id}", safe="")):
            derived = case.derive()
            derived.path_parameters[RUN_PARAMETER] = value
            found.append(derived)
    if all(name in case.path_parameters for name in WORKFLOW_PARAMETERS):
        derived = case.derive()
        derived.path_parameters.update(dict(zip(WORKFLOW_PARAMETERS, RUN_JOB, strict=True)))
        found.append(derived)
    return found


def leaked(response: httpx.Response, secrets: list[str]) -> list[str]:
    """The ``secrets`` in ``response`` that its request did not carry itself."""
    request = response.request
    asked = (unquote(str(request.url)) + request.content.decode(errors="replace")).lower()
    answer = response.text.lower()
    return [secret for secret in secrets if secret.lower() in answer and secret.lower() not in asked]


def describe(caller: Caller, response: httpx.Response) -> str:
    request = response.request
    return (f"{caller.name}: {request.method} {request.url} {request.content[:300]!r}\n"
            f"-> {response.status_code} {response.text[:1000]}")


@settings(max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@schema.parametrize()
def test_no_5xx_no_other_organisations_data_and_no_way_in_without_a_valid_token(
        case: Any, published: None, callers: list[Caller], alices_run: dict[str, Any],
        tenants: Any) -> None:
    acme = [tenants.organisations["acme"], alices_run["id"], "alice"]
    umbrella = [tenants.organisations["umbrella"]]
    authenticated = "401" in case.operation.responses.status_codes
    for sent in variants(case, alices_run["id"]):
        # A request with another method than the operation's (a coverage probe) is not the operation.
        the_operation = sent.method.upper() == case.operation.method.upper()
        for caller in callers:
            response = send(caller, sent)
            checks = [not_a_server_error]
            if caller.owner and 200 <= response.status_code < 300:
                checks.append(response_schema_conformance)
            sent.validate_response(response, checks=checks)
            assert not leaked(response, umbrella if caller.owner else acme), \
                f"another organisation's data ({leaked(response, umbrella if caller.owner else acme)}) in " \
                f"the answer to {describe(caller, response)}"
            if caller.refused_for is not None and authenticated and the_operation:
                assert response.status_code == 401, f"a token that is not valid got in: {describe(caller, response)}"
                assert response.json().get("reason") == caller.refused_for.value, describe(caller, response)
                assert response.headers.get("www-authenticate", "").startswith("Bearer "), \
                    describe(caller, response)
