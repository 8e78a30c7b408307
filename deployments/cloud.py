"""Deployments of the cloud workflows (deployment & integration module)."""

from __future__ import annotations

from prefect.deployments.runner import RunnerDeployment

from heroes.blocks.defaults import DEFAULT_AWS_ACCOUNT
from heroes.flows.architecture.cloud import (
    deploy_temporary_nodes,
    integrate_cloud_platform,
    start_cluster_nodes,
    stop_cluster_nodes,
    terminate_idle_nodes,
    undeploy_temporary_nodes,
)


def cloud_deployments(account: str = DEFAULT_AWS_ACCOUNT) -> list[RunnerDeployment]:
    """The cloud flows; idle-node termination runs every 15 minutes on ``account``."""
    tags = ["heroes", "cloud"]
    return [
        integrate_cloud_platform.to_deployment(
            name="integrate-cloud-platform", tags=tags,
            description="Plan, approve and apply an organisation's private cloud cluster (Terraform); "
                        "register its headnode as an HPC centre."),
        start_cluster_nodes.to_deployment(name="start-cluster-nodes", tags=tags,
                                          description="Start compute nodes of a private cloud cluster."),
        stop_cluster_nodes.to_deployment(name="stop-cluster-nodes", tags=tags,
                                         description="Stop compute nodes of a private cloud cluster."),
        deploy_temporary_nodes.to_deployment(
            name="deploy-temporary-nodes", tags=tags,
            description="Deploy a workflow's temporary cloud nodes (terminated if the workflow fails)."),
        undeploy_temporary_nodes.to_deployment(name="undeploy-temporary-nodes", tags=tags,
                                               description="Terminate a workflow's temporary nodes."),
        terminate_idle_nodes.to_deployment(
            name="terminate-idle-nodes", interval=900, tags=tags, parameters={"account": account},
            description="Every 15 minutes: terminate idle temporary nodes, stop idle cluster nodes."),
    ]


__all__ = ["cloud_deployments"]
