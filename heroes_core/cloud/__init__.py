"""Cloud nodes (AWS EC2, OCI Compute) and the Terraform runner for private cloud clusters."""

from heroes_core.cloud.aws import AWSNodes
from heroes_core.cloud.base import (
    TAG_CLUSTER,
    TAG_LAST_USED,
    TAG_ORGANISATION,
    TAG_ROLE,
    TAG_WORKFLOW,
    HealthCheck,
    Node,
    NodeProvider,
    NodeSpec,
    deploy_temporary,
    heroes_tags,
    ssh_health_check,
)
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
from heroes_core.cloud.operations import (
    IdleReport,
    start_cluster_nodes,
    stop_cluster_nodes,
    temporary_tags,
    terminate_idle_nodes,
)

__all__ = [
    "TAG_CLUSTER",
    "TAG_LAST_USED",
    "TAG_ORGANISATION",
    "TAG_ROLE",
    "TAG_WORKFLOW",
    "AWSNodes",
    "CloudAuthError",
    "CloudError",
    "HealthCheck",
    "IdleReport",
    "InstanceTypeUnavailableError",
    "Node",
    "NodeNotFoundError",
    "NodeProvider",
    "NodeSpec",
    "NodeTimeoutError",
    "NodeUnhealthyError",
    "QuotaExceededError",
    "aws_error",
    "deploy_temporary",
    "heroes_tags",
    "ssh_health_check",
    "start_cluster_nodes",
    "stop_cluster_nodes",
    "temporary_tags",
    "terminate_idle_nodes",
]
