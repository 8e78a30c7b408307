"""Cloud nodes (AWS EC2, OCI Compute), workflows' leases on a cluster's nodes, and the Terraform
runner for private cloud clusters."""

from heroes_core.cloud.aws import AWSNodes
from heroes_core.cloud.base import (
    TAG_CLUSTER,
    TAG_LAST_USED,
    TAG_LEASE_PREFIX,
    TAG_ORGANISATION,
    TAG_ROLE,
    TAG_WORKFLOW,
    HealthCheck,
    Node,
    NodeProvider,
    NodeSpec,
    deploy_temporary,
    heroes_tags,
    lease_tag,
    ssh_health_check,
)
from heroes_core.cloud.billing import charge_startup
from heroes_core.cloud.binding import cluster_binding, publish_cloud_price
from heroes_core.cloud.errors import (
    CloudAuthError,
    CloudError,
    InstanceTypeUnavailableError,
    NodeNotFoundError,
    NodeTimeoutError,
    NodeUnhealthyError,
    QuotaExceededError,
    aws_error,
)
from heroes_core.cloud.leases import (
    Lease,
    NodeStartError,
    Release,
    acquire_nodes,
    release_nodes,
    running_nodes,
)
from heroes_core.cloud.operations import (
    IdleReport,
    start_cluster_nodes,
    stop_cluster_nodes,
    temporary_tags,
    terminate_idle_nodes,
)
from heroes_core.sites import CloudBinding

__all__ = [
    "TAG_CLUSTER",
    "TAG_LAST_USED",
    "TAG_LEASE_PREFIX",
    "TAG_ORGANISATION",
    "TAG_ROLE",
    "TAG_WORKFLOW",
    "AWSNodes",
    "CloudAuthError",
    "CloudBinding",
    "CloudError",
    "HealthCheck",
    "IdleReport",
    "InstanceTypeUnavailableError",
    "Lease",
    "Node",
    "NodeNotFoundError",
    "NodeProvider",
    "NodeSpec",
    "NodeStartError",
    "NodeTimeoutError",
    "NodeUnhealthyError",
    "QuotaExceededError",
    "Release",
    "acquire_nodes",
    "aws_error",
    "charge_startup",
    "cluster_binding",
    "deploy_temporary",
    "heroes_tags",
    "lease_tag",
    "publish_cloud_price",
    "release_nodes",
    "running_nodes",
    "ssh_health_check",
    "start_cluster_nodes",
    "stop_cluster_nodes",
    "temporary_tags",
    "terminate_idle_nodes",
]
