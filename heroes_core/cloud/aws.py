"""AWS EC2 nodes through boto3.

Every call goes through :meth:`AWSNodes._call`, which turns botocore's
``ClientError`` into a HEROES error naming the region, the instance type and
the fix (see :mod:`heroes_core.cloud.errors`). Waiting is bounded: boto3's
waiters get ``Delay``/``MaxAttempts`` computed from the caller's timeout.

Only instances tagged ``heroes:organisation`` are ever started, stopped or
terminated: ids of other instances are refused, so a typo cannot stop someone
else's machine.

Every instance HEROES launches answers only IMDSv2 (session tokens required) with
a PUT hop limit of 1, so a token cannot be fetched through a container's extra
network hop (:data:`METADATA_OPTIONS`, the same as the Terraform module's). A
node's SSH host key is read from its console output
(:meth:`AWSNodes.console_output`, see :mod:`heroes_core.cloud.host_keys`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError, WaiterError  # type: ignore[import-untyped]

from heroes_core.cloud.base import (
    ALIVE_STATES,
    TAG_LAST_USED,
    TAG_ORGANISATION,
    Node,
    NodeProvider,
    NodeSpec,
    NodeState,
)
from heroes_core.cloud.errors import CloudError, NodeNotFoundError, NodeTimeoutError, aws_error

_WAITERS = {"running": "instance_running", "stopped": "instance_stopped",
            "terminated": "instance_terminated"}
_BATCH = 200
METADATA_OPTIONS = {"HttpTokens": "required", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"}


class AWSNodes(NodeProvider):
    """EC2 instances of one account in one region, driven through a boto3 EC2 client."""

    def __init__(self, ec2: Any, region: str, *, poll_interval: float = 5.0) -> None:
        self.ec2 = ec2
        self.region = region
        self.site = f"aws:{region}"
        self.poll_interval = poll_interval

    @classmethod
    def from_session(cls, session: Any, *, endpoint_url: str | None = None) -> AWSNodes:
        region = session.region_name or "us-east-1"
        return cls(session.client("ec2", region_name=region, endpoint_url=endpoint_url), region)

    def _call(self, operation: str, method: Callable[..., Any], *, instance_type: str | None = None,
              subject: str | None = None, **kwargs: Any) -> Any:
        try:
            return method(**kwargs)
        except ClientError as exc:
            raise aws_error(exc, operation=operation, region=self.region, instance_type=instance_type,
                            subject=subject) from exc

    # --- NodeProvider ---------------------------------------------------------------------

    def deploy(self, spec: NodeSpec, count: int, tags: Mapping[str, str], *,
               idempotency_key: str | None = None) -> list[Node]:
        if count < 1:
            raise ValueError("count must be at least 1")
        if TAG_ORGANISATION not in tags:
            raise ValueError(f"HEROES nodes must carry the {TAG_ORGANISATION} tag")
        tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
        request: dict[str, Any] = {
            "MinCount": count, "MaxCount": count, "MetadataOptions": dict(METADATA_OPTIONS),
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tag_list},
                                  {"ResourceType": "volume", "Tags": tag_list}],
        }
        if spec.launch_template_id:
            request["LaunchTemplate"] = {"LaunchTemplateId": spec.launch_template_id}
        if spec.image_id:
            request["ImageId"] = spec.image_id
        request["InstanceType"] = spec.instance_type
        if spec.subnet_id:
            request["SubnetId"] = spec.subnet_id
        if spec.security_group_ids:
            request["SecurityGroupIds"] = list(spec.security_group_ids)
        if spec.key_name:
            request["KeyName"] = spec.key_name
        if spec.user_data:
            request["UserData"] = spec.user_data
        if spec.availability_zone:
            request["Placement"] = {"AvailabilityZone": spec.availability_zone}
        if idempotency_key:
            request["ClientToken"] = idempotency_key[:64]
        answer = self._call("RunInstances", self.ec2.run_instances, instance_type=spec.instance_type,
                            **request)
        return [_node(item) for item in answer.get("Instances", [])]

    def start(self, node_ids: Sequence[str]) -> None:
        ids = self._owned(node_ids)
        if ids:
            self._call("StartInstances", self.ec2.start_instances, InstanceIds=ids, subject=", ".join(ids))

    def stop(self, node_ids: Sequence[str]) -> None:
        ids = self._owned(node_ids)
        if ids:
            self._call("StopInstances", self.ec2.stop_instances, InstanceIds=ids, subject=", ".join(ids))

    def terminate(self, node_ids: Sequence[str]) -> None:
        ids = self._owned(node_ids, missing_ok=True)
        for start in range(0, len(ids), _BATCH):
            batch = ids[start:start + _BATCH]
            self._call("TerminateInstances", self.ec2.terminate_instances, InstanceIds=batch,
                       subject=", ".join(batch))

    def list_nodes(self, tags: Mapping[str, str],
                   states: Sequence[NodeState] = ALIVE_STATES) -> list[Node]:
        filters = [{"Name": "tag-key", "Values": [TAG_ORGANISATION]}]
        filters += [{"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items()]
        filters.append({"Name": "instance-state-name", "Values": list(states)})
        return self._describe(Filters=filters)

    def describe(self, node_ids: Sequence[str]) -> list[Node]:
        """The nodes with these ids (any state); unknown ids raise :class:`NodeNotFoundError`."""
        if not node_ids:
            return []
        return self._describe(InstanceIds=list(node_ids), subject=", ".join(node_ids))

    def wait_for_state(self, node_ids: Sequence[str], state: Literal["running", "stopped", "terminated"],
                       *, timeout: float) -> list[Node]:
        ids = list(node_ids)
        if not ids:
            return []
        delay = max(1, min(int(self.poll_interval), int(timeout)))
        attempts = max(1, math.ceil(timeout / delay))
        try:
            self.ec2.get_waiter(_WAITERS[state]).wait(
                InstanceIds=ids, WaiterConfig={"Delay": delay, "MaxAttempts": attempts})
        except WaiterError as exc:
            last = getattr(exc, "last_response", None) or {}
            if "Error" in last:
                raise aws_error(exc.__cause__ or _as_client_error(last), operation="DescribeInstances",
                                region=self.region, subject=", ".join(ids)) from exc
            states = ", ".join(f"{n.id}={n.state}" for n in self.describe(ids))
            raise NodeTimeoutError(
                f"node(s) did not become {state} within {timeout:.0f} s ({states})", site=self.site,
                fix=("look at the instances in the EC2 console (status checks, console output); "
                     "HEROES terminates temporary nodes that do not come up")) from exc
        return self.describe(ids)

    def mark_used(self, node_ids: Sequence[str], at: datetime | None = None) -> None:
        ids = self._owned(node_ids)
        if ids:
            stamp = (at or datetime.now(UTC)).isoformat()
            self._call("CreateTags", self.ec2.create_tags, Resources=ids,
                       Tags=[{"Key": TAG_LAST_USED, "Value": stamp}], subject=", ".join(ids))

    def set_tags(self, node_ids: Sequence[str], tags: Mapping[str, str]) -> None:
        ids = self._owned(node_ids)
        if ids and tags:
            self._call("CreateTags", self.ec2.create_tags, Resources=ids,
                       Tags=[{"Key": k, "Value": v} for k, v in tags.items()], subject=", ".join(ids))

    def remove_tags(self, node_ids: Sequence[str], keys: Sequence[str]) -> None:
        ids = self._owned(node_ids, missing_ok=True)
        if ids and keys:
            self._call("DeleteTags", self.ec2.delete_tags, Resources=ids,
                       Tags=[{"Key": k} for k in keys], subject=", ".join(ids))

    def console_output(self, node_id: str) -> str:
        """The instance's console output (``GetConsoleOutput``) as text; "" while EC2 has none.

        EC2 sends it base64-encoded and botocore decodes it. ``Latest=True``
        reads the serial console now (Nitro instances); other instance types
        answer ``UnsupportedOperation`` and get the output EC2 buffered at the
        last state change instead.
        """
        try:
            answer = self.ec2.get_console_output(InstanceId=node_id, Latest=True)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "UnsupportedOperation":
                raise aws_error(exc, operation="GetConsoleOutput", region=self.region,
                                subject=node_id) from exc
            answer = self._call("GetConsoleOutput", self.ec2.get_console_output, InstanceId=node_id,
                                subject=node_id)
        return str(answer.get("Output") or "")

    # --- helpers ---------------------------------------------------------------------------

    def _describe(self, *, subject: str | None = None, **kwargs: Any) -> list[Node]:
        nodes: list[Node] = []
        token: str | None = None
        while True:
            page = self._call("DescribeInstances", self.ec2.describe_instances, subject=subject,
                              **kwargs, **({"NextToken": token} if token else {}))
            for reservation in page.get("Reservations", []):
                nodes.extend(_node(item) for item in reservation.get("Instances", []))
            token = page.get("NextToken")
            if not token:
                return nodes

    def _owned(self, node_ids: Sequence[str], *, missing_ok: bool = False) -> list[str]:
        """The ids, after checking each is a HEROES node; refuse any other instance."""
        ids = list(dict.fromkeys(node_ids))
        if not ids:
            return []
        try:
            found = self.describe(ids)
        except NodeNotFoundError:
            if not missing_ok:
                raise
            found = [n for n in self.list_nodes({}, states=(*ALIVE_STATES, "shutting-down", "terminated"))
                     if n.id in ids]
        foreign = [n.id for n in found if TAG_ORGANISATION not in n.tags]
        if foreign:
            raise CloudError(
                f"instance(s) {', '.join(foreign)} are not HEROES nodes (no {TAG_ORGANISATION} tag); "
                f"HEROES leaves them alone", site=self.site,
                fix="pass only ids of nodes HEROES started (see list_nodes)")
        known = {n.id for n in found if n.state != "terminated"}
        return [i for i in ids if i in known]


def _as_client_error(response: Mapping[str, Any]) -> ClientError:
    return ClientError(dict(response), "DescribeInstances")


def _node(item: Mapping[str, Any]) -> Node:
    state = str(item.get("State", {}).get("Name", "unknown"))
    launched = item.get("LaunchTime")
    if isinstance(launched, str):
        launched = datetime.fromisoformat(launched.replace("Z", "+00:00"))
    if isinstance(launched, datetime) and launched.tzinfo is None:
        launched = launched.replace(tzinfo=UTC)
    return Node(
        id=str(item["InstanceId"]),
        state=state if state in _KNOWN_STATES else "unknown",  # type: ignore[arg-type]
        instance_type=str(item.get("InstanceType", "")),
        tags={str(t["Key"]): str(t.get("Value", "")) for t in item.get("Tags", []) or []},
        private_ip=item.get("PrivateIpAddress"), public_ip=item.get("PublicIpAddress"),
        launched_at=launched if isinstance(launched, datetime) else None)


_KNOWN_STATES = frozenset({"pending", "running", "stopping", "stopped", "shutting-down", "terminated"})
