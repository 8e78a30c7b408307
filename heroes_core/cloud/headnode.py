"""What a HEROES Terraform module reports about the cluster it made, and the headnode's host key.

The cluster is registered as an HPC centre from these outputs; its headnode's host key is read
from the headnode's own console and checked against any key pinned before (:mod:`.host_keys`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from heroes_core.cloud.base import NodeProvider
from heroes_core.cloud.host_keys import pin_host_key
from heroes_core.containers import RuntimeName
from heroes_core.errors import HostKeyError


class ClusterOutputs(BaseModel):
    """The outputs of ``terraform/aws`` or ``terraform/oci`` HEROES reads (others are ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    headnode_address: str
    headnode_id: str | None = None
    service_account: str
    partitions: tuple[str, ...] = ()
    work_root: str = "/shared/heroes"
    container_runtime: RuntimeName = "apptainer"
    cluster: str | None = None
    launch_template_id: str | None = None  # AWS: the compute nodes' launch template
    instance_configuration_id: str | None = None  # OCI: the compute nodes' instance configuration

    @property
    def compute_template(self) -> str | None:
        """What new compute nodes are launched from, whichever provider's module made it."""
        return self.launch_template_id or self.instance_configuration_id

    @model_validator(mode="before")
    @classmethod
    def _nulls_take_defaults(cls, data: Any) -> Any:
        """An output a module left null means "the default", as if it were absent."""
        if isinstance(data, Mapping):
            return {name: value for name, value in data.items() if value is not None}
        return data


def headnode_host_key(nodes: NodeProvider, outputs: ClusterOutputs, pinned: str | None, *, site: str,
                      timeout: float) -> str:
    """The headnode's SSH host key to pin: read from its console, checked against ``pinned``."""
    if not outputs.headnode_id:
        raise HostKeyError("the Terraform outputs name no headnode_id, so HEROES cannot read the "
                           "headnode's host key from its console", site=site,
                           fix="use the HEROES module (terraform/aws or terraform/oci), which outputs it")
    observed = nodes.read_host_keys(outputs.headnode_id, timeout=timeout)
    return pin_host_key(observed, pinned, site=site, node=f"headnode {outputs.headnode_id}")
