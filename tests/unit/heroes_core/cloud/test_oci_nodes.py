"""OCINodes through the real ``oci`` SDK, answered by recorded OCI responses (no OCI endpoint here).

The SDK builds, signs and sends each request through ``base_client.session``;
a fake session answers with recorded JSON bodies, so serialisation, signing and
error parsing are the SDK's own.
"""

from __future__ import annotations

import json
from typing import Any

import oci
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from heroes_core.cloud import CloudAuthError, InstanceTypeUnavailableError, Node, NodeSpec, heroes_tags
from heroes_core.cloud.oci import OCINodes

INSTANCE = {"id": "ocid1.instance.oc1..a", "lifecycleState": "PROVISIONING", "shape": "VM.Standard.E4.Flex",
            "availabilityDomain": "AD-1", "compartmentId": "ocid1.compartment.oc1..c", "region": "eu-frankfurt-1",
            "timeCreated": "2024-05-01T10:00:00.000Z",
            "freeformTags": {"heroes-organisation": "acme", "heroes-role": "temporary", "heroes-workflow": "wf"}}


def pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


class FakeSession:
    def __init__(self, answers: list[tuple[int, Any]]) -> None:
        self.answers = answers
        self.requests: list[tuple[str, str, Any]] = []
        self.params: list[Any] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.requests.append((method, url, kwargs.get("data")))
        self.params.append(kwargs.get("params"))
        status, body = self.answers.pop(0)
        response = requests.Response()
        response.status_code = status
        if isinstance(body, bytes):  # a binary answer (console history content)
            response._content = body
            response.headers["content-type"] = "application/octet-stream"
        else:
            response._content = b"" if body is None else json.dumps(body).encode()
            response.headers["content-type"] = "application/json"
        response.headers["opc-request-id"] = "req-1"
        response.request = requests.Request(method, url).prepare()
        return response


def nodes(answers: list[tuple[int, Any]]) -> tuple[OCINodes, FakeSession]:
    config = {"tenancy": "ocid1.tenancy.oc1..t", "user": "ocid1.user.oc1..u", "fingerprint": "12:34:56:78:9a:bc:de:f0:12:34:56:78:9a:bc:de:f0",
              "key_content": pem(), "region": "eu-frankfurt-1"}
    session = FakeSession(answers)
    client = oci.core.ComputeClient(config, retry_strategy=oci.retry.NoneRetryStrategy())
    management = oci.core.ComputeManagementClient(config, retry_strategy=oci.retry.NoneRetryStrategy())
    client.base_client.session = management.base_client.session = session
    api = OCINodes(client, "ocid1.compartment.oc1..c", "eu-frankfurt-1", availability_domain="AD-1",
                   poll_interval=0, management=management)
    return api, session


def deployed(spec: NodeSpec, tags: dict[str, str], answer: dict[str, Any]) -> tuple[Node, str, str, Any]:
    """One node deployed from ``spec`` (OCI answering ``answer``): the node, and the request's method,
    URL and body."""
    api, session = nodes([(200, answer)])
    (node,) = api.deploy(spec, 1, tags)
    method, url, body = session.requests[0]
    return node, method, url, json.loads(body)


def test_deploy_sends_tags_with_oci_keys_and_maps_back() -> None:
    node, method, url, sent = deployed(NodeSpec(instance_type="VM.Standard.E4.Flex", image_id="ocid1.image..i",
                                                subnet_id="ocid1.subnet..s"),
                                       heroes_tags("acme", role="temporary", workflow="wf"), INSTANCE)
    assert method == "POST" and url.endswith("/instances")
    assert sent["shape"] == "VM.Standard.E4.Flex" and sent["freeformTags"]["heroes-role"] == "temporary"
    assert node.state == "pending" and node.tags["heroes:workflow"] == "wf" and node.role == "temporary"


def test_compute_nodes_launch_from_the_clusters_instance_configuration_with_heroes_tags() -> None:
    compute = {**INSTANCE, "freeformTags": {"heroes-organisation": "acme", "heroes-role": "compute",
                                            "heroes-cluster": "acme"}}
    node, method, url, sent = deployed(NodeSpec(instance_type="VM.Standard.E4.Flex", image_id="",
                                                launch_template_id="ocid1.instanceconfiguration.oc1..ic"),
                                       heroes_tags("acme", role="compute", cluster="acme"), compute)
    assert method == "POST"
    assert url.endswith("/instanceConfigurations/ocid1.instanceconfiguration.oc1..ic/actions/launch")
    assert sent["instanceType"] == "compute" and sent["launchDetails"]["freeformTags"]["heroes-cluster"] == "acme"
    assert sent["launchDetails"]["compartmentId"] == "ocid1.compartment.oc1..c"
    assert node.role == "compute" and node.tags["heroes:cluster"] == "acme"


def test_deployed_nodes_answer_only_imds_v2() -> None:
    api, session = nodes([(200, INSTANCE)])
    api.deploy(NodeSpec(instance_type="VM.Standard.E4.Flex", image_id="ocid1.image..i"), 1,
               heroes_tags("acme", role="temporary", workflow="wf"))
    sent = json.loads(session.requests[0][2])
    assert sent["instanceOptions"] == {"areLegacyImdsEndpointsDisabled": True}


def test_list_start_and_wait() -> None:
    running = {**INSTANCE, "lifecycleState": "RUNNING"}
    stopped = {**INSTANCE, "lifecycleState": "STOPPED"}
    other = {**INSTANCE, "id": "ocid1.instance.oc1..foreign", "freeformTags": {}}
    api, session = nodes([(200, [stopped, other]), (200, stopped), (200, running), (200, running)])
    (found,) = api.list_nodes({"heroes:organisation": "acme"}, states=("stopped",))
    api.start([found.id])
    assert session.requests[2][0] == "POST" and session.params[2]["action"] == "START"
    assert api.wait_for_state([found.id], "running", timeout=1)[0].state == "running"


def test_service_errors_are_clear() -> None:
    api, _ = nodes([(401, {"code": "NotAuthenticated", "message": "The required information to complete "
                                                                  "authentication was not provided."})])
    with pytest.raises(CloudAuthError) as caught:
        api.list_nodes({})
    assert caught.value.site == "oci:eu-frankfurt-1" and caught.value.fix and "fingerprint" in caught.value.fix

    api, _ = nodes([(400, {"code": "InvalidParameter", "message": "Shape BM.GPU.A100 is not valid for "
                                                                  "this availability domain"})])
    with pytest.raises(InstanceTypeUnavailableError, match=r"BM\.GPU\.A100 is not offered in eu-frankfurt-1"):
        api.deploy(NodeSpec(instance_type="BM.GPU.A100", image_id="i"), 1, heroes_tags("acme", role="temporary"))
