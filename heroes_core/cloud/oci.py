"""OCI Compute nodes through the ``oci`` SDK's ``ComputeClient``.

The same operations as :class:`heroes_core.cloud.aws.AWSNodes`. OCI freeform
tag keys cannot hold ``:``, so ``heroes:role`` is stored as ``heroes-role`` (and
so on) and mapped back when read. No OCI endpoint can run on this machine:
this module is exercised only by unit tests that drive the real SDK through a
fake HTTP session with recorded responses
(``tests/unit/heroes_core/cloud/test_oci_nodes.py``).

Every instance HEROES launches has the legacy IMDS v1 endpoints disabled
(``are_legacy_imds_endpoints_disabled``, as in the Terraform module). A node's
SSH host key is read from a capture of its serial console history
(:meth:`OCINodes.console_output`, see :mod:`heroes_core.cloud.host_keys`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from heroes_core.cloud.base import ALIVE_STATES, TAG_LAST_USED, TAG_ORGANISATION, Node, NodeProvider, NodeSpec
from heroes_core.cloud.errors import (
    CloudAuthError,
    CloudError,
    InstanceTypeUnavailableError,
    NodeNotFoundError,
    NodeTimeoutError,
    QuotaExceededError,
)

_STATE_FROM_OCI: dict[str, Any] = {
    "PROVISIONING": "pending", "STARTING": "pending", "RUNNING": "running", "STOPPING": "stopping",
    "STOPPED": "stopped", "TERMINATING": "shutting-down", "TERMINATED": "terminated",
    "CREATING_IMAGE": "running", "MOVING": "pending",
}
_CONSOLE_BYTES = 1024 * 1024  # OCI keeps the last megabyte of a console
_OCI_FROM_STATE = {"pending": "PROVISIONING", "running": "RUNNING", "stopping": "STOPPING",
                   "stopped": "STOPPED", "shutting-down": "TERMINATING", "terminated": "TERMINATED"}


def oci_tag(key: str) -> str:
    return key.replace(":", "-")


def heroes_tag(key: str) -> str:
    return key.replace("heroes-", "heroes:", 1) if key.startswith("heroes-") else key


def oci_error(exc: Any, *, operation: str, region: str, shape: str | None = None) -> CloudError:
    """A HEROES error for an ``oci.exceptions.ServiceError``."""
    status = int(getattr(exc, "status", 0) or 0)
    code = str(getattr(exc, "code", "Unknown"))
    message = str(getattr(exc, "message", exc))
    site = f"oci:{region}"
    what = f"{operation} ({status} {code}: {message})"
    if status == 401 or code == "NotAuthenticated":
        return CloudAuthError(f"OCI refused the account's API key for {what}", site=site, code=code,
                              fix="check the tenancy and user OCIDs, the key fingerprint and the private "
                                  "key of the OCI account block, and that the key is uploaded for that user")
    if code in {"LimitExceeded", "QuotaExceeded"} or ("limit" in message.lower() and status == 400):
        return QuotaExceededError(f"the tenancy's limit for {shape or 'instances'} in {region} is used up: "
                                  f"{what}", site=site, code=code,
                                  fix="terminate unused HEROES nodes, request a service limit increase, "
                                      "or pick another region or shape")
    if "shape" in message.lower() and (status in {400, 404} or code in {"InvalidParameter", "NotFound"}):
        return InstanceTypeUnavailableError(
            f"{shape or 'the shape'} is not offered in {region}: {what}", site=site, code=code,
            fix=f"choose a shape listed by `oci compute shape list` in {region}, or another region")
    if status == 404:
        return NodeNotFoundError(f"not found: {what}", site=site, code=code,
                                 fix="list the nodes again; it may have been terminated already")
    return CloudError(f"OCI failed {what}", site=site, code=code, fix="see the OCI error code above")


class OCINodes(NodeProvider):
    """Instances of one compartment, through an ``oci.core.ComputeClient`` (and an
    ``oci.core.ComputeManagementClient`` for nodes launched from an instance configuration)."""

    def __init__(self, compute: Any, compartment_id: str, region: str, *,
                 availability_domain: str | None = None, poll_interval: float = 5.0,
                 management: Any | None = None) -> None:
        self.compute = compute
        self.management = management
        self.compartment_id = compartment_id
        self.region = region
        self.availability_domain = availability_domain
        self.site = f"oci:{region}"
        self.poll_interval = poll_interval

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, compartment_id: str,
                    availability_domain: str | None = None) -> OCINodes:
        import oci  # type: ignore[import-untyped]

        return cls(oci.core.ComputeClient(dict(config)), compartment_id, str(config["region"]),
                   availability_domain=availability_domain,
                   management=oci.core.ComputeManagementClient(dict(config)))

    def _call(self, operation: str, method: Any, *args: Any, shape: str | None = None, **kwargs: Any) -> Any:
        import oci

        try:
            return method(*args, **kwargs)
        except oci.exceptions.ServiceError as exc:
            raise oci_error(exc, operation=operation, region=self.region, shape=shape) from exc

    def deploy(self, spec: NodeSpec, count: int, tags: Mapping[str, str], *,
               idempotency_key: str | None = None) -> list[Node]:
        """Launch ``count`` instances from an image, or from the instance configuration
        ``spec.launch_template_id`` (what a cluster's Terraform module makes for its compute nodes);
        all or none, like EC2's RunInstances."""
        if TAG_ORGANISATION not in tags:
            raise ValueError(f"HEROES nodes must carry the {TAG_ORGANISATION} tag")
        domain = spec.availability_zone or self.availability_domain
        if not domain:
            raise ValueError("OCI needs an availability domain (NodeSpec.availability_zone)")
        if spec.launch_template_id and self.management is None:
            raise ValueError("launching from an instance configuration needs a ComputeManagementClient "
                             "(OCINodes.from_config makes one)")
        launch = self._from_configuration if spec.launch_template_id else self._from_image
        nodes = []
        try:
            for index in range(count):
                token = f"{idempotency_key}-{index}"[:64] if idempotency_key else None
                nodes.append(_node(launch(spec, domain, f"heroes-{tags.get('heroes:role', 'node')}-{index}",
                                          {oci_tag(k): v for k, v in tags.items()},
                                          {"opc_retry_token": token} if token else {}).data))
        except BaseException:
            self.terminate([n.id for n in nodes])
            raise
        return nodes

    def _from_image(self, spec: NodeSpec, domain: str, name: str, tags: dict[str, str],
                    retry: dict[str, str]) -> Any:
        import oci

        details = oci.core.models.LaunchInstanceDetails(
            availability_domain=domain, compartment_id=self.compartment_id, shape=spec.instance_type,
            display_name=name, freeform_tags=tags,
            source_details=oci.core.models.InstanceSourceViaImageDetails(image_id=spec.image_id),
            create_vnic_details=oci.core.models.CreateVnicDetails(subnet_id=spec.subnet_id),
            metadata={"user_data": spec.user_data} if spec.user_data else None,
            instance_options=oci.core.models.InstanceOptions(are_legacy_imds_endpoints_disabled=True))
        return self._call("LaunchInstance", self.compute.launch_instance, details, shape=spec.instance_type,
                          **retry)

    def _from_configuration(self, spec: NodeSpec, domain: str, name: str, tags: dict[str, str],
                            retry: dict[str, str]) -> Any:
        import oci

        launch = oci.core.models.InstanceConfigurationLaunchInstanceDetails(
            availability_domain=domain, compartment_id=self.compartment_id, display_name=name,
            freeform_tags=tags)
        details = oci.core.models.ComputeInstanceDetails(instance_type="compute", launch_details=launch)
        assert self.management is not None
        return self._call("LaunchInstanceConfiguration", self.management.launch_instance_configuration,
                          spec.launch_template_id, details, shape=spec.instance_type, **retry)

    def _action(self, node_ids: Sequence[str], action: str) -> None:
        for node_id in node_ids:
            self._call(f"InstanceAction {action}", self.compute.instance_action, node_id, action)

    def start(self, node_ids: Sequence[str]) -> None:
        self._action(self._owned(node_ids), "START")

    def stop(self, node_ids: Sequence[str]) -> None:
        self._action(self._owned(node_ids), "SOFTSTOP")

    def terminate(self, node_ids: Sequence[str]) -> None:
        for node_id in self._owned(node_ids, missing_ok=True):
            self._call("TerminateInstance", self.compute.terminate_instance, node_id)

    def get(self, node_id: str) -> Node:
        return _node(self._call("GetInstance", self.compute.get_instance, node_id).data)

    def list_nodes(self, tags: Mapping[str, str],
                   states: Sequence[Any] = ALIVE_STATES) -> list[Node]:
        import oci

        wanted = {oci_tag(k): v for k, v in tags.items()}
        answer = self._call("ListInstances", oci.pagination.list_call_get_all_results,
                            self.compute.list_instances, self.compartment_id)
        nodes = [_node(item) for item in answer.data]
        return [n for n in nodes if n.state in states and TAG_ORGANISATION in n.tags
                and all(n.tags.get(heroes_tag(k)) == v for k, v in wanted.items())]

    def wait_for_state(self, node_ids: Sequence[str], state: Literal["running", "stopped", "terminated"],
                       *, timeout: float) -> list[Node]:
        deadline = time.monotonic() + timeout
        while True:
            nodes = [self.get(i) for i in node_ids]
            if all(n.state == state for n in nodes):
                return nodes
            if time.monotonic() >= deadline:
                states = ", ".join(f"{n.id}={n.state}" for n in nodes)
                raise NodeTimeoutError(f"node(s) did not become {state} within {timeout:.0f} s ({states})",
                                       site=self.site, fix="look at the instances' console history in OCI")
            time.sleep(self.poll_interval)

    def mark_used(self, node_ids: Sequence[str], at: datetime | None = None) -> None:
        import oci

        stamp = (at or datetime.now(UTC)).isoformat()
        for node in (self.get(i) for i in node_ids):
            tags = {oci_tag(k): v for k, v in node.tags.items()} | {oci_tag(TAG_LAST_USED): stamp}
            self._call("UpdateInstance", self.compute.update_instance, node.id,
                       oci.core.models.UpdateInstanceDetails(freeform_tags=tags))

    def set_tags(self, node_ids: Sequence[str], tags: Mapping[str, str]) -> None:
        self._retag(node_ids, lambda current: current | {oci_tag(k): v for k, v in tags.items()})

    def remove_tags(self, node_ids: Sequence[str], keys: Sequence[str]) -> None:
        gone = {oci_tag(k) for k in keys}
        self._retag(node_ids, lambda current: {k: v for k, v in current.items() if k not in gone})

    def _retag(self, node_ids: Sequence[str], change: Callable[[dict[str, str]], dict[str, str]]) -> None:
        """Rewrite each node's freeform tags (OCI replaces them as a whole)."""
        import oci

        for node_id in self._owned(node_ids, missing_ok=True):
            node = self.get(node_id)
            tags = change({oci_tag(k): v for k, v in node.tags.items()})
            self._call("UpdateInstance", self.compute.update_instance, node.id,
                       oci.core.models.UpdateInstanceDetails(freeform_tags=tags))

    def console_output(self, node_id: str, *, capture_timeout: float = 120.0) -> str:
        """The instance's serial console history (the last megabyte), captured now, as text.

        ``CaptureConsoleHistory`` starts a capture, ``GetConsoleHistory`` is polled
        until it has ``SUCCEEDED``, ``GetConsoleHistoryContent`` reads it; the
        capture is deleted afterwards whatever happened.
        """
        import oci

        capture = self._call("CaptureConsoleHistory", self.compute.capture_console_history,
                             oci.core.models.CaptureConsoleHistoryDetails(instance_id=node_id)).data
        try:
            deadline = time.monotonic() + capture_timeout
            state = str(capture.lifecycle_state)
            while state != "SUCCEEDED":
                if state == "FAILED" or time.monotonic() >= deadline:
                    raise CloudError(f"the console history capture of {node_id} ended {state}",
                                     site=self.site, fix="look at the instance in the OCI console (is it "
                                                         "running?) and run the flow again")
                time.sleep(self.poll_interval)
                state = str(self._call("GetConsoleHistory", self.compute.get_console_history,
                                       capture.id).data.lifecycle_state)
            content = self._call("GetConsoleHistoryContent", self.compute.get_console_history_content,
                                 capture.id, length=_CONSOLE_BYTES).data
        finally:
            with contextlib.suppress(CloudError):  # a leftover capture holds no secret
                self._call("DeleteConsoleHistory", self.compute.delete_console_history, capture.id)
        return content.decode("utf-8", errors="replace") if isinstance(content, bytes) else str(content or "")

    def _owned(self, node_ids: Sequence[str], *, missing_ok: bool = False) -> list[str]:
        owned = []
        for node_id in dict.fromkeys(node_ids):
            try:
                node = self.get(node_id)
            except NodeNotFoundError:
                if missing_ok:
                    continue
                raise
            if TAG_ORGANISATION not in node.tags:
                raise CloudError(f"instance {node_id} is not a HEROES node; HEROES leaves it alone",
                                 site=self.site, fix="pass only ids of nodes HEROES started")
            if node.state != "terminated":
                owned.append(node_id)
        return owned


def _node(item: Any) -> Node:
    created = getattr(item, "time_created", None)
    if isinstance(created, datetime) and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return Node(id=str(item.id), state=_STATE_FROM_OCI.get(str(item.lifecycle_state), "unknown"),
                instance_type=str(getattr(item, "shape", "") or ""),
                tags={heroes_tag(k): str(v) for k, v in (getattr(item, "freeform_tags", None) or {}).items()},
                launched_at=created if isinstance(created, datetime) else None)
