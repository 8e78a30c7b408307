"""The cloud binding a private cloud cluster's centre block carries, made from what the
Terraform module was given and reported.

:class:`~heroes_core.sites.CloudBinding` itself is defined beside ``SiteConfig`` (a centre block
holds it, and the sites layer cannot import this package); it is re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from heroes_core.cloud.errors import CloudError
from heroes_core.costs import PriceBook, PriceModel, PriceNotFoundError, partition_offering_name
from heroes_core.costs.cloud_prices import PriceList, UnknownPriceError
from heroes_core.sites import CloudBinding

# The modules' defaults (terraform/aws/variables.tf, terraform/oci/variables.tf,
# terraform/shared/cluster_variables.tf), for variables an admin did not override.
MODULE_DEFAULTS: dict[str, dict[str, Any]] = {
    "aws": {"compute_type": "c5.4xlarge", "max_compute_nodes": 8},
    "oci": {"compute_shape": "VM.Standard.E4.Flex", "compute_ocpus": 8, "max_compute_nodes": 8},
}
OCI_FLEX_GB_PER_OCPU = 16
"""Memory OCI gives a flex shape per OCPU when, as in the HEROES module, only OCPUs are set."""


def cluster_binding(provider: Literal["aws", "oci"], *, account: str, organisation: str, cluster: str,
                    region: str, variables: Mapping[str, Any], prices: PriceList,
                    startup_s: float = 180.0, cores_per_node: int | None = None) -> CloudBinding:
    """The binding of a cluster made with ``variables`` (the module's defaults where absent).

    Cores per node come from the price list's vCPUs for the instance type (AWS) or two per OCPU
    (OCI), unless given; an AWS type the price list does not describe must be given them.
    """
    values = {**MODULE_DEFAULTS[provider], **variables}
    site = f"{provider}:{organisation}"
    ocpus = memory_gb = None
    if provider == "aws":
        instance_type = str(values["compute_type"])
        if cores_per_node is None:
            try:
                cores_per_node = prices.lookup("aws", region, instance_type).vcpus
            except UnknownPriceError:
                cores_per_node = None
    else:
        instance_type = str(values["compute_shape"])
        ocpus = float(values["compute_ocpus"])
        memory_gb = ocpus * OCI_FLEX_GB_PER_OCPU
        cores_per_node = cores_per_node or int(ocpus * 2)
    if not cores_per_node:
        raise CloudError(f"the price list does not say how many vCPUs a {instance_type} in {region} has",
                         site=site, fix="pass cores_per_node to integrate-cloud-platform, or refresh the "
                                        "cloud prices for that instance type")
    return CloudBinding(provider=provider, account=account, organisation=organisation, cluster=cluster,
                        region=region, instance_type=instance_type, cores_per_node=cores_per_node,
                        max_nodes=int(values["max_compute_nodes"]), startup_s=startup_s, ocpus=ocpus,
                        memory_gb=memory_gb)


def publish_cloud_price(prices: PriceBook, centre: str, binding: CloudBinding, partitions: Sequence[str],
                        price_list: PriceList, *, now: datetime | None = None) -> list[int]:
    """Give each partition of the cloud centre a price book offering at the provider's on-demand
    price per node-hour, where it has none yet; return the offerings.

    The planner prices a cloud option from the cloud price list itself (with the nodes'
    start-up); the ledger charges a job through the price book like at any centre, so the
    centre needs an offering there too. A price already published is left as it is: the
    price book keeps history, and a new version is the admin's to publish.
    """
    moment = now or datetime.now(UTC)
    hourly = price_list.hourly_price(binding.provider, binding.region, binding.instance_type,
                                     ocpus=binding.ocpus, memory_gb=binding.memory_gb)
    _, currency = price_list.node_cost(binding.provider, binding.region, binding.instance_type, nodes=1,
                                       seconds=0, ocpus=binding.ocpus, memory_gb=binding.memory_gb)
    prices.register_provider(centre, f"{binding.provider} cloud cluster {binding.cluster} of "
                                     f"{binding.organisation}", "resource")
    offerings = []
    for partition in partitions:
        name = partition_offering_name(centre, partition)
        offering = prices.offering(centre, "partition", name, site=centre)
        try:
            prices.price_at(offering, moment)
        except PriceNotFoundError:
            prices.publish(centre, offering, PriceModel(currency=currency, per_node_hour=hourly),
                           valid_from=moment, now=moment)
        offerings.append(offering)
    return offerings
