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
        RunnerDeployment.from_flow(
            integrate_cloud_platform, name="integrate-cloud-platform", tags=tags,
            description="Plan, approve and apply an organisation's private cloud cluster (Terraform); "
                        "register its headnode as an HPC centre."),
        RunnerDeployment.from_flow(
            start_cluster_nodes, name="start-cluster-nodes", tags=tags,
            description="Start compute nodes of a private cloud cluster."),
        RunnerDeployment.from_flow(
            stop_cluster_nodes, name="stop-cluster-nodes", tags=tags,
            description="Stop compute nodes of a private cloud cluster."),
        RunnerDeployment.from_flow(
            deploy_temporary_nodes, name="deploy-temporary-nodes", tags=tags,
            description="Deploy a workflow's temporary cloud nodes (terminated if the workflow fails)."),
        RunnerDeployment.from_flow(
            undeploy_temporary_nodes, name="undeploy-temporary-nodes", tags=tags,
            description="Terminate a workflow's temporary nodes."),
        RunnerDeployment.from_flow(
            terminate_idle_nodes, name="terminate-idle-nodes", interval=900, tags=tags,
            parameters={"account": account},
            description="Every 15 minutes: terminate idle temporary nodes, stop idle cluster nodes."),
    ]


__all__ = ["cloud_deployments"]
