"""A node's SSH host key: made on the node, read from its serial console, pinned by HEROES.

The AWS reader goes through a real boto3 EC2 client answered by botocore's
``Stubber`` (the stub answers GetConsoleOutput base64-encoded, as EC2 does, and
botocore's own handler decodes it); the OCI reader through
the real ``oci`` SDK answered by recorded responses (capture, poll, content, delete).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from heroes_core.cloud.aws import AWSNodes
from heroes_core.cloud.host_keys import HOST_KEY_BEGIN, HOST_KEY_END, host_keys_from_console, pin_host_key
from heroes_core.errors import HostKeyError
from tests.unit.heroes_core.cloud.test_oci_nodes import nodes as oci_nodes


def public_key() -> str:
    return Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


KEY = public_key()
OTHER = public_key()


def console(*lines: str) -> str:
    return "\r\n".join(["[    0.000000] Linux version 6.1.0-18-cloud-amd64", *lines, "login: "])


def heroes_block(key: str, comment: str = " root@acme-head") -> list[str]:
    return [HOST_KEY_BEGIN, key + comment, HOST_KEY_END]


# --- parsing -------------------------------------------------------------------------------------

def test_reads_the_key_the_node_printed_between_heroes_markers() -> None:
    assert host_keys_from_console(console(*heroes_block(KEY))) == [KEY]


def test_reads_the_key_block_cloud_init_prints_on_the_console() -> None:
    text = console("ci-info: no authorized SSH keys fingerprints found for user heroes.",
                   "-----BEGIN SSH HOST KEY KEYS-----", KEY + " root@ip-10-42-1-5",
                   "-----END SSH HOST KEY KEYS-----")
    assert host_keys_from_console(text) == [KEY]


def test_a_key_printed_at_every_boot_counts_once() -> None:
    assert host_keys_from_console(console(*heroes_block(KEY), "reboot", *heroes_block(KEY))) == [KEY]


def test_keys_outside_the_markers_or_malformed_are_ignored() -> None:
    broken = KEY.split()[0] + " " + base64.b64encode(b"\0\0\0\x0bssh-ed25519\0\0\0\x20short").decode()
    text = console(KEY + " printed by someone else", HOST_KEY_BEGIN, broken, "ssh-ed25519 !!notbase64",
                   "-----BEGIN OPENSSH PRIVATE KEY-----", HOST_KEY_END)
    assert host_keys_from_console(text) == []


def test_an_unterminated_block_is_ignored() -> None:
    assert host_keys_from_console(console(HOST_KEY_BEGIN, KEY)) == []


# --- pinning -------------------------------------------------------------------------------------

def test_pins_the_one_key_read_from_the_console() -> None:
    assert pin_host_key([KEY], None, site="aws:acme", node="i-1") == KEY
    assert pin_host_key([KEY], KEY, site="aws:acme", node="i-1") == KEY


def test_no_key_on_the_console_and_none_pinned_before_is_refused() -> None:
    with pytest.raises(HostKeyError) as caught:
        pin_host_key([], None, site="aws:acme", node="i-1")
    assert caught.value.site == "aws:acme" and "i-1" in str(caught.value)
    assert caught.value.fix and "console" in caught.value.fix


def test_a_key_pinned_before_is_kept_when_the_console_no_longer_shows_one() -> None:
    assert pin_host_key([], KEY, site="aws:acme", node="i-1") == KEY


def test_a_console_key_different_from_the_pinned_one_is_refused() -> None:
    with pytest.raises(HostKeyError, match="differs") as caught:
        pin_host_key([OTHER], KEY, site="aws:acme", node="i-1")
    assert caught.value.fix


def test_two_different_keys_on_the_console_are_refused() -> None:
    with pytest.raises(HostKeyError, match="2 different"):
        pin_host_key([KEY, OTHER], None, site="aws:acme", node="i-1")


# --- AWS: GetConsoleOutput -----------------------------------------------------------------------

def aws(responses: list[tuple[str, dict[str, Any], dict[str, Any] | str]]) -> tuple[AWSNodes, Stubber]:
    ec2 = boto3.client("ec2", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")
    stub = Stubber(ec2)
    for method, params, answer in responses:
        if isinstance(answer, str):
            stub.add_client_error(method, service_error_code=answer, expected_params=params)
        else:
            stub.add_response(method, answer, params)
    stub.activate()
    api = AWSNodes(ec2, "eu-west-1", poll_interval=0)
    return api, stub


def output(text: str) -> dict[str, Any]:
    return {"InstanceId": "i-1", "Output": base64.b64encode(text.encode()).decode()}


def test_aws_reads_the_host_key_from_the_latest_console_output() -> None:
    latest = {"InstanceId": "i-1", "Latest": True}
    api, stub = aws([("get_console_output", latest, {"InstanceId": "i-1"}),  # booting: no output yet
                     ("get_console_output", latest, output(console(*heroes_block(KEY))))])
    assert api.read_host_keys("i-1", timeout=60) == [KEY]
    stub.assert_no_pending_responses()


def test_aws_falls_back_to_the_buffered_console_output_off_nitro() -> None:
    api, stub = aws([("get_console_output", {"InstanceId": "i-1", "Latest": True}, "UnsupportedOperation"),
                     ("get_console_output", {"InstanceId": "i-1"}, output(console(*heroes_block(KEY))))])
    assert api.read_host_keys("i-1", timeout=0) == [KEY]
    stub.assert_no_pending_responses()


def test_aws_console_without_a_key_gives_no_key_after_the_timeout() -> None:
    api, stub = aws([("get_console_output", {"InstanceId": "i-1", "Latest": True}, output(console()))])
    assert api.read_host_keys("i-1", timeout=0) == []
    stub.assert_no_pending_responses()


# --- OCI: console history ------------------------------------------------------------------------

HISTORY = {"id": "ocid1.consolehistory.oc1..h", "instanceId": "ocid1.instance.oc1..a",
           "availabilityDomain": "AD-1", "compartmentId": "ocid1.compartment.oc1..c",
           "timeCreated": "2024-05-01T10:00:00.000Z"}


def test_oci_captures_the_console_history_reads_the_key_and_deletes_the_capture() -> None:
    text = console(*heroes_block(KEY)).encode()
    api, session = oci_nodes([(200, {**HISTORY, "lifecycleState": "REQUESTED"}),
                              (200, {**HISTORY, "lifecycleState": "GETTING-HISTORY"}),
                              (200, {**HISTORY, "lifecycleState": "SUCCEEDED"}),
                              (200, text), (204, None)])
    assert api.read_host_keys("ocid1.instance.oc1..a", timeout=0) == [KEY]
    (capture, *polls, content, delete) = session.requests
    assert capture[0] == "POST" and capture[1].endswith("/instanceConsoleHistories")
    assert json.loads(capture[2])["instanceId"] == "ocid1.instance.oc1..a"
    assert [p[0] for p in polls] == ["GET", "GET"]
    assert content[0] == "GET" and content[1].endswith("/instanceConsoleHistories/ocid1.consolehistory.oc1..h/data")
    assert delete[0] == "DELETE" and delete[1].endswith("/instanceConsoleHistories/ocid1.consolehistory.oc1..h")


def test_oci_failed_capture_is_a_clear_error_and_is_deleted() -> None:
    api, session = oci_nodes([(200, {**HISTORY, "lifecycleState": "REQUESTED"}),
                              (200, {**HISTORY, "lifecycleState": "FAILED"}), (204, None)])
    with pytest.raises(Exception, match="console history") as caught:
        api.read_host_keys("ocid1.instance.oc1..a", timeout=0)
    assert getattr(caught.value, "site", None) == "oci:eu-frankfurt-1"
    assert session.requests[-1][0] == "DELETE"
