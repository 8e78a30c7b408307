"""A hermetic gateway: real tokens, a JWKS and a Prefect API served in-process.

Access tokens are real JWTs signed with an RSA key made here and checked by the real
``TokenVerifier`` (only its key fetch goes through ``httpx.MockTransport``). The Prefect API
is :class:`FakePrefect`, a small in-memory handler that answers the calls the gateway makes
and records every request it receives, so a test can assert what the gateway forwarded.

The fake holds to Prefect's contract where the gateway rewrites what it sends: filter bodies
and create-flow-run bodies are validated with the Prefect server's own schemas (422 as
Prefect answers), and a created run's parameters are the deployment's defaults updated with
the sent ones, then hydrated, as Prefect's ``create_flow_run_from_deployment`` does.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm
from prefect.server.schemas import actions as prefect_actions
from prefect.server.schemas import filters as prefect_filters
from prefect.utilities.schema_tools.hydration import HydrationContext, HydrationError, hydrate
from pydantic import BaseModel, SecretStr, ValidationError

from heroes.gateway import GatewaySettings, create_app
from heroes_core.identity import Identity, KeycloakSettings, Role, TokenVerifier

KEYCLOAK = KeycloakSettings(server_url="http://kc.test", realm="heroes", admin_password=SecretStr("admin-pw"))
TOKEN_ENDPOINT = f"{KEYCLOAK.issuer}/protocol/openid-connect/token"
PREFECT = "http://prefect.test/api"
PUBLIC_URL = "http://gateway.test"
SETTINGS = GatewaySettings(prefect_api_url=PREFECT, public_url=PUBLIC_URL)
GRANT_KEY = "x" * 40


class SigningKey:
    """An RSA key with its kid, and the JWK a realm would publish for it."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True) | {
            "kid": kid, "use": "sig", "alg": "RS256"}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": self.kid})


@pytest.fixture(scope="session")
def realm_key() -> SigningKey:
    return SigningKey("realm-1")


@pytest.fixture(scope="session")
def stranger_key() -> SigningKey:
    """A key the realm does not publish."""
    return SigningKey("stranger-1")


def claims(user: str = "alice", organisation: str = "acme", roles: tuple[str, ...] = ("engineer",),
           projects: tuple[str, ...] = (), **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": KEYCLOAK.issuer, "aud": KEYCLOAK.audience, "sub": f"sub-{user}", "iat": now, "exp": now + 300,
        "typ": "Bearer", "preferred_username": user, "organization": [organisation],
        "realm_access": {"roles": list(roles)},
        "groups": [f"/{organisation}/projects/{project}" for project in projects]}
    base.update(overrides)
    return base


@dataclass
class Minter:
    """Makes access tokens of the realm, and the Authorization headers that carry them."""

    key: SigningKey

    def token(self, user: str = "alice", organisation: str = "acme", roles: tuple[str, ...] = ("engineer",),
              projects: tuple[str, ...] = (), **overrides: Any) -> str:
        return self.key.sign(claims(user, organisation, roles, projects, **overrides))

    def headers(self, user: str = "alice", organisation: str = "acme",
                roles: tuple[str, ...] = ("engineer",), projects: tuple[str, ...] = (),
                **overrides: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user, organisation, roles, projects, **overrides)}"}


@pytest.fixture
def tokens(realm_key: SigningKey) -> Minter:
    return Minter(realm_key)


# The callers the tests use, by role.
ALICE = {"user": "alice", "organisation": "acme", "roles": ("engineer",), "projects": ("climate",)}
ANNA = {"user": "anna", "organisation": "acme", "roles": ("engineer",)}
WALTER = {"user": "walter", "organisation": "acme", "roles": ("workflow-admin",)}
BILL = {"user": "bill", "organisation": "acme", "roles": ("billing-admin",)}
CAROL = {"user": "carol", "organisation": "globex", "roles": ("engineer",)}
OLIVIA = {"user": "olivia", "organisation": "heroes", "roles": ("infrastructure-admin",)}


def identity(user: str = "alice", organisation: str = "acme", roles: tuple[str, ...] = ("engineer",),
             projects: tuple[str, ...] = ()) -> Identity:
    return Identity(subject=f"sub-{user}", user=user, organisation=organisation,
                    roles=frozenset(Role(role) for role in roles), projects=frozenset(projects))


def owner(organisation: str, user: str, project: str | None = None) -> list[str]:
    tags = [f"heroes-org:{organisation}", f"heroes-user:{user}"]
    return [*tags, f"heroes-project:{project}"] if project else tags


@dataclass
class Call:
    """One request the fake Prefect API received."""

    method: str
    path: str  # relative to /api, with a leading slash
    body: Any
    query: dict[str, str]
    headers: dict[str, str]
    url_path: str  # the whole path on the Prefect server, e.g. /api/flow_runs/filter or /runs


# The filters a Prefect listing body may hold, by key, as the Prefect server parses them.
FILTERS: dict[str, type[BaseModel]] = {
    "flows": prefect_filters.FlowFilter, "flow_runs": prefect_filters.FlowRunFilter,
    "task_runs": prefect_filters.TaskRunFilter, "deployments": prefect_filters.DeploymentFilter,
    "logs": prefect_filters.LogFilter, "artifacts": prefect_filters.ArtifactFilter,
    "work_pools": prefect_filters.WorkPoolFilter, "work_queues": prefect_filters.WorkQueueFilter,
}
LISTINGS = ("/filter", "/count", "/paginate", "/history", "/dashboard/counts")


def unprocessable(error: ValidationError) -> httpx.Response:
    """Prefect's answer to a body its schemas refuse."""
    return httpx.Response(422, json={"exception_message": "Invalid request received.",
                                     "exception_detail": error.errors(include_url=False, include_context=False,
                                                                      include_input=False)})


@dataclass
class FakePrefect:
    """An in-memory Prefect API: deployments, flows, flow runs (with tags), logs, artifacts."""

    flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    flow_runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)  # Prefect's workspace variables
    # Stands for a deployment's parameter schema: a run whose parameters it refuses is a 409.
    refuse_parameters: Callable[[dict[str, Any]], bool] | None = None
    calls: list[Call] = field(default_factory=list)

    # --- building the world -------------------------------------------------------------
    def add_deployment(self, flow: str, name: str = "default", parameters: dict[str, Any] | None = None,
                       ) -> dict[str, Any]:
        flow_id = next((id_ for id_, found in self.flows.items() if found["name"] == flow), None)
        if flow_id is None:
            flow_id = str(uuid.uuid4())
            self.flows[flow_id] = {"id": flow_id, "name": flow}
        deployment = {"id": str(uuid.uuid4()), "name": name, "flow_id": flow_id,
                      "description": f"{flow} {name}", "parameters": dict(parameters or {}),
                      "parameter_openapi_schema": {"type": "object", "properties": {}}}
        self.deployments[deployment["id"]] = deployment
        return deployment

    def add_run(self, tags: list[str], deployment: dict[str, Any] | None = None,
                name: str = "a-run") -> dict[str, Any]:
        run = {"id": str(uuid.uuid4()), "name": name, "tags": list(tags),
               "deployment_id": deployment["id"] if deployment else None, "parameters": {},
               "state": {"type": "RUNNING", "name": "Running"}, "created": "2025-01-01T00:00:00Z",
               "start_time": "2025-01-01T00:00:01Z", "end_time": None}
        self.flow_runs[run["id"]] = run
        return run

    def sent(self, method: str, path: str) -> list[Call]:
        """The calls received for ``method path`` (path relative to /api, e.g. '/flow_runs/filter')."""
        return [call for call in self.calls if call.method == method and call.path == path]

    # --- answering ----------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url.host == "prefect.test"
        raw = request.content
        body = json.loads(raw) if raw else None
        path = request.url.path.removeprefix("/api")
        self.calls.append(Call(request.method, path, body, dict(request.url.params),
                               {key.lower(): value for key, value in request.headers.items()},
                               request.url.path))
        if not request.url.path.startswith("/api/"):  # the Prefect UI's pages, assets and settings
            if request.url.path == "/ui-settings":
                return httpx.Response(200, json={"api_url": "http://127.0.0.1:4200/api", "csrf_enabled": True,
                                                 "flags": []})
            return httpx.Response(200, text="<html>the Prefect UI</html>", headers={"content-type": "text/html"})
        parts = path.strip("/").split("/")
        method = request.method
        missing = httpx.Response(404, json={"detail": "Not found"})
        if method == "POST" and path.endswith(LISTINGS) and isinstance(body, dict):
            for key, schema in FILTERS.items():
                if body.get(key) is not None:
                    try:
                        schema.model_validate(body[key])
                    except ValidationError as error:
                        return unprocessable(error)

        if method == "POST" and path == "/deployments/filter":
            wanted = (((body or {}).get("deployments") or {}).get("id") or {}).get("any_")
            return httpx.Response(200, json=[d for d in self.deployments.values()
                                             if wanted is None or d["id"] in wanted])
        if method == "GET" and parts[0] == "deployments" and len(parts) == 4 and parts[1] == "name":
            found = next((d for d in self.deployments.values()
                          if self.flows[d["flow_id"]]["name"] == parts[2] and d["name"] == parts[3]), None)
            return httpx.Response(200, json=found) if found else missing
        if method == "GET" and parts[0] == "deployments" and len(parts) == 2:
            found = self.deployments.get(parts[1])
            return httpx.Response(200, json=found) if found else missing
        if method == "POST" and parts[0] == "deployments" and parts[2:] == ["create_flow_run"]:
            deployment = self.deployments.get(parts[1])
            if deployment is None:
                return missing
            try:
                prefect_actions.DeploymentFlowRunCreate.model_validate(body)
            except ValidationError as error:
                return unprocessable(error)
            context = HydrationContext(workspace_variables=self.variables, render_workspace_variables=True,
                                       render_jinja=True, raise_on_error=True)
            try:
                parameters = hydrate({**deployment["parameters"], **(body.get("parameters") or {})}, context)
            except HydrationError as error:
                return httpx.Response(400, json={"detail": f"Error hydrating flow run parameters: {error}"})
            if self.refuse_parameters is not None and self.refuse_parameters(parameters):
                return httpx.Response(409, json={"detail": "Error creating flow run: Validation failed"})
            run = self.add_run(body.get("tags") or [], deployment, name=body.get("name") or "created-run")
            run.update(parameters=parameters, state={"type": "SCHEDULED", "name": "Scheduled"})
            return httpx.Response(201, json=run)
        if method == "POST" and path == "/flows/filter":
            wanted = (((body or {}).get("flows") or {}).get("name") or {}).get("any_")
            return httpx.Response(200, json=[flow for flow in self.flows.values()
                                             if wanted is None or flow["name"] in wanted])
        if method == "GET" and parts[0] == "flows" and len(parts) == 2:
            found = self.flows.get(parts[1])
            return httpx.Response(200, json=found) if found else missing
        if method == "POST" and path == "/flow_runs/filter":
            wanted = set((((body or {}).get("flow_runs") or {}).get("tags") or {}).get("all_") or [])
            return httpx.Response(200, json=[run for run in self.flow_runs.values()
                                             if wanted <= set(run["tags"])])
        if parts[0] == "flow_runs" and len(parts) == 2:
            found = self.flow_runs.get(parts[1])
            if found is None:
                return missing
            if method == "DELETE":
                del self.flow_runs[parts[1]]
                return httpx.Response(204)
            return httpx.Response(200, json=found)
        if method == "POST" and parts[0] == "flow_runs" and parts[2:] == ["set_state"]:
            found = self.flow_runs.get(parts[1])
            if found is None:
                return missing
            try:
                prefect_actions.StateCreate.model_validate(body["state"])
            except ValidationError as error:
                return unprocessable(error)
            found["state"] = {"type": body["state"]["type"], "name": body["state"].get("name")}
            return httpx.Response(201, json={"status": "ACCEPTED", "state": found["state"]})
        if method == "POST" and path == "/logs/filter":
            wanted = (((body or {}).get("logs") or {}).get("flow_run_id") or {}).get("any_") or []
            return httpx.Response(200, json=[line for line in self.logs if line["flow_run_id"] in wanted])
        if method == "POST" and path == "/artifacts/filter":
            wanted = (((body or {}).get("artifacts") or {}).get("flow_run_id") or {}).get("any_") or []
            return httpx.Response(200, json=[a for a in self.artifacts if a["flow_run_id"] in wanted])
        if method == "POST" and path in ("/block_documents/filter", "/variables/filter"):
            return httpx.Response(200, json=[{"id": str(uuid.uuid4()), "name": "a-secret"}])
        return missing


@pytest.fixture
def prefect() -> FakePrefect:
    return FakePrefect()


def jwks_transport(*keys: SigningKey) -> httpx.MockTransport:
    def serve(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == KEYCLOAK.jwks_url
        return httpx.Response(200, json={"keys": [key.jwk for key in keys]})
    return httpx.MockTransport(serve)


@pytest.fixture
def verifier(realm_key: SigningKey) -> Iterator[TokenVerifier]:
    with TokenVerifier(KEYCLOAK.issuer, KEYCLOAK.audience, KEYCLOAK.jwks_url,
                       transport=jwks_transport(realm_key)) as made:
        yield made


@pytest.fixture
def app(prefect: FakePrefect, verifier: TokenVerifier) -> FastAPI:
    return create_app(SETTINGS, keycloak=KEYCLOAK, verifier=verifier, grant_key=GRANT_KEY,
                      upstream_transport=httpx.MockTransport(prefect.handle))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=PUBLIC_URL) as made:
        yield made


@dataclass
class World:
    """Deployments of user and administration flows, and runs of two organisations (and one of
    nobody: created outside the gateway), with a log line and an artifact of alice's run."""

    run_job: dict[str, Any]
    run_workflow: dict[str, Any]
    billing: dict[str, Any]
    enrol: dict[str, Any]
    alices_run: dict[str, Any]
    annas_run: dict[str, Any]
    carols_run: dict[str, Any]
    unowned_run: dict[str, Any]


@pytest.fixture
def world(prefect: FakePrefect) -> World:
    run_job = prefect.add_deployment("run-job", parameters={"centre": "hpc-a", "grant": ""})
    run_workflow = prefect.add_deployment("run-workflow")
    billing = prefect.add_deployment("billing-report", "monthly")
    enrol = prefect.add_deployment("enrol-centre")
    alices_run = prefect.add_run(owner("acme", "alice", "climate"), run_job, name="alices")
    prefect.logs += [{"flow_run_id": alices_run["id"], "timestamp": "2025-01-01T00:00:02Z", "level": 20,
                      "message": "hello", "name": "prefect.flow_runs"}]
    prefect.artifacts += [{"id": str(uuid.uuid4()), "flow_run_id": alices_run["id"], "key": "result",
                           "type": "markdown", "description": "the result", "data": "# done"}]
    return World(run_job, run_workflow, billing, enrol, alices_run,
                 annas_run=prefect.add_run(owner("acme", "anna"), run_job, name="annas"),
                 carols_run=prefect.add_run(owner("globex", "carol"), run_job, name="carols"),
                 unowned_run=prefect.add_run(["nightly"], enrol))
