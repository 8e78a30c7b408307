"""A site: a centre's transport, scheduler, container runtime and limits, wired once.

The Prefect block stores a :class:`SiteConfig`; :func:`open_site` turns it into
live objects, sharing one SSH connection per site across the whole process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

from heroes_core.containers import ContainerRuntime, RuntimeName, runtime_named
from heroes_core.energy import ANY_PARTITION, PowerModel, power_model_for
from heroes_core.errors import SpecError
from heroes_core.models import (
    GPU_TYPE_PATTERN,
    MAX_GPUS_PER_NODE,
    NAME_PATTERN,
    ORGANISATION_PATTERN,
    JobSpec,
)
from heroes_core.schedulers import DEFAULT_SCHEDULER, Scheduler, SchedulerName, scheduler_named
from heroes_core.transport import LocalTransport, SSHConfig, SSHSettings, Transport, shared_transport


class SiteLimits(BaseModel):
    """What one job may ask of a centre, checked before anything is submitted."""

    model_config = ConfigDict(frozen=True)

    max_cores_per_job: int = Field(default=1024, ge=1, description="Largest core count one job may ask.")
    max_nodes_per_job: int = Field(default=64, ge=1, description="Largest node count one job may ask.")
    max_time_limit_minutes: int = Field(
        default=24 * 60, ge=1, description="Longest time limit, in minutes, one job may ask.")
    max_output_mb: int = Field(
        default=20 * 1024, ge=1, description="Most one job may write into its directory, in MiB: a job "
                                             "is stopped past it and its outputs are not staged out.")


class PartitionGPUs(BaseModel):
    """The GPUs each node of one partition holds, as its centre declares them.

    Counted per node, as a job asks for them (``JobSpec.gpus``): a job may ask for at most
    ``per_node``, on each of its nodes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    per_node: int = Field(ge=0, le=MAX_GPUS_PER_NODE,
                          description="GPUs on each node of the partition (0: none, e.g. to "
                                      "except one partition from '*').")
    type: str | None = Field(default=None, pattern=GPU_TYPE_PATTERN,
                             description="Their model as the centre's batch system names it (e.g. "
                                         "a100); None if it names none, and then a job asking for "
                                         "a type is refused there.")

    def describe(self) -> str:
        return f"{self.per_node} {self.type + ' ' if self.type else ''}GPU(s) per node"


def image_root(value: str) -> str:
    """An allowed image root: an absolute path on the centre, without a trailing slash."""
    if not value.startswith("/") or "\n" in value or "\x00" in value:
        raise ValueError(f"image root {value!r} must be an absolute path on the centre "
                         "(e.g. /scratch/heroes/images)")
    return value.rstrip("/") or "/"


ImageRoot = Annotated[str, AfterValidator(image_root)]


class CloudBinding(BaseModel):
    """What makes a centre an organisation's private cloud cluster: where its compute nodes live
    and what one costs.

    The centre's login node is the cluster's headnode (always running); its compute nodes are
    cloud instances, stopped while no workflow needs them, tagged ``heroes:cluster`` =
    ``cluster`` and ``heroes:organisation`` = ``organisation``. The planner prices a job there
    from the cloud provider's price list (``instance_type`` in ``region``) for the node-hours it
    holds, start-up included; only ``organisation``'s workflows may use it. Defined here, beside
    :class:`SiteConfig`, because a centre block carries it; the node operations are in
    :mod:`heroes_core.cloud.leases`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Literal["aws", "oci"] = Field(description="The cloud provider of the cluster's nodes.")
    account: str = Field(min_length=1, description="Name of the AWSAccount / OCIAccount block HEROES "
                                                    "starts and stops the nodes with.")
    organisation: str = Field(pattern=ORGANISATION_PATTERN,
                              description="The organisation that owns the cluster: only its "
                                          "workflows are placed on it.")
    cluster: str = Field(pattern=NAME_PATTERN, description="The cluster's name, its nodes' "
                                                             "heroes:cluster tag.")
    region: str = Field(min_length=1, description="The provider region of the nodes (priced there).")
    instance_type: str = Field(min_length=1, description="The compute nodes' instance type or shape.")
    cores_per_node: int = Field(ge=1, le=4096, description="Cores a job gets on each compute node.")
    max_nodes: int = Field(ge=1, le=10_000, description="Compute nodes the cluster has at most.")
    startup_s: float = Field(default=180.0, ge=0, le=86_400,
                             description="Declared seconds from starting a stopped node to its "
                                         "taking jobs: added to a job's predicted time and paid for.")
    start_timeout_s: float = Field(default=900.0, gt=0, le=86_400,
                                   description="How long HEROES waits for started nodes to run "
                                               "before it gives up, stops them and re-places the job.")
    launch_template: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$",
        description="The compute node template new nodes are launched from while the cluster has fewer "
                    "than max_nodes (the AWS launch template id, or the OCI instance configuration OCID, "
                    "that the Terraform module made); none: only the nodes the cluster has are used.")
    ocpus: float | None = Field(default=None, gt=0, description="OCI flex shapes: OCPUs per node "
                                                                "(priced per OCPU-hour).")
    memory_gb: float | None = Field(default=None, gt=0, description="OCI flex shapes: GB of memory "
                                                                    "per node (priced per GB-hour).")

    @property
    def site(self) -> str:
        """How errors name the cluster's nodes."""
        return f"{self.provider}:{self.organisation}/{self.cluster}"


class SiteConfig(SSHSettings):
    """Everything HEROES needs to know to run jobs on one centre.

    How to reach it comes from :class:`SSHSettings`; the rest is defined here, each
    setting once. The HPC centre block's form takes its fields from these models.
    """

    name: str = Field(description="The centre's name in HEROES (its block's name).")
    # A local transport needs no key.
    private_key: SecretStr = Field(default=SecretStr(""),
                                   description=SSHSettings.model_fields["private_key"].description)
    transport: Literal["ssh", "local"] = Field(
        default="ssh", description="How HEROES runs commands on the centre ('local': on this machine).")
    scheduler: SchedulerName = Field(
        default=DEFAULT_SCHEDULER,
        description="Batch system on the centre ('local' runs background processes).")
    min_poll_interval_s: float = Field(
        default=10.0, ge=1, le=3600,
        description=("Least time between two status queries HEROES' site monitor sends to the centre's "
                     "login node, in seconds: enforced for every monitor at once (a Prefect rate limit "
                     "per centre), whatever their number and interval."))
    partitions: tuple[str, ...] = Field(
        default=(), description="Partitions (queues) HEROES may use; empty means any the centre offers.")
    default_partition: str | None = Field(
        default=None, description="Partition used when a job names none; None uses the scheduler's default.")
    work_root: str = Field(description="Directory on the centre under which job directories are made.")
    container_runtime: RuntimeName = Field(
        default="apptainer", description="Container runtime installed on the centre's compute nodes.")
    image_cache_dir: str | None = Field(
        default=None, description="Where unpacked images are cached; defaults to <work_root>/.images.")
    image_roots: tuple[ImageRoot, ...] = Field(
        default=(),
        description=("Directories on the centre where container images are published (absolute "
                     "paths). A job's image must be a regular file inside one of them once "
                     "symbolic links are resolved on the centre; empty means <work_root>/images."))
    image_cache_gb: float = Field(
        default=50.0, gt=0,
        description=("Most the centre's cache of application images (<first image root>/cache) "
                     "holds, in GB (10^9 bytes); least recently used images go first, never one "
                     "a job may still need."))
    limits: SiteLimits = Field(default=SiteLimits(), description="What one job may ask of the centre.")
    power_models: dict[str, PowerModel] = Field(
        default_factory=dict,
        description=("Power model per partition ('*' for every partition not named): idle watts per "
                     "node, watts per busy core and GPU, the data centre's PUE. HEROES models a job's "
                     "energy from it where neither EAR nor Slurm measured it; without one, the energy "
                     "of such jobs is unknown."))

    archive_bandwidth_gbps: float = Field(
        default=1.0, gt=0, le=100_000,
        description=("Sustained rate between the centre and the central archive, in Gbit/s. Every "
                     "input and every file passed between jobs moves through the archive, so the "
                     "planner adds each job's transfers at this rate to its time on the centre."))
    gpus: dict[str, PartitionGPUs] = Field(
        default_factory=dict,
        description=("GPUs per node of each partition ('*' for every partition not named), with "
                     "their type where the centre names one. A job asking for GPUs where none are "
                     "declared, for more per node than declared, or for another type is refused "
                     "before anything is submitted."))
    cloud: CloudBinding | None = Field(
        default=None,
        description=("Set when the centre is an organisation's private cloud cluster (filled in by "
                     "integrate-cloud-platform): its compute nodes' provider, account block, "
                     "owner, cluster tag, region, instance type, cores and nodes, start-up time. "
                     "Only the owner's workflows are placed on it; HEROES starts its nodes for a "
                     "job and stops them when no workflow holds them."))

    @model_validator(mode="after")
    def _gpus_name_partitions(self) -> SiteConfig:
        """A GPU declaration under a name no partition can have would give no job a GPU.

        A declaration for a partition merely absent from ``partitions`` is kept: it harms no
        job, and refusing it would stop every job of the centre, GPU or not. A job refused
        for GPUs is told which partitions declare them, which shows such a slip.
        """
        for key in self.gpus:
            if key != ANY_PARTITION and not re.fullmatch(NAME_PATTERN, key):
                raise ValueError(f"gpus names partition {key!r}, which is not a valid partition "
                                 "name (or '*' for every partition)")
        return self

    def partition_gpus(self, partition: str | None) -> PartitionGPUs | None:
        """The GPUs declared on each node of ``partition`` (else the centre-wide '*' entry);
        None where it has none: undeclared, or declared with ``per_node`` 0.

        ``partition`` None is where a job naming none runs: ``default_partition``, else the
        scheduler's default, which only the '*' entry describes.
        """
        partition = partition or self.default_partition
        declared = self.gpus.get(partition) if partition is not None else None
        if declared is None:
            declared = self.gpus.get(ANY_PARTITION)
        return declared if declared is not None and declared.per_node > 0 else None

    def power_model(self, partition: str | None) -> PowerModel | None:
        """The declared power model of ``partition`` (or the centre-wide one), None if undeclared."""
        return power_model_for(self.power_models, partition)

    def effective_image_roots(self) -> tuple[str, ...]:
        """The image roots in force: the configured ones, else ``<work_root>/images``."""
        return self.image_roots or (f"{self.work_root.rstrip('/')}/images",)

    def ssh_config(self) -> SSHConfig:
        """The centre's SSH connection settings, its errors naming the centre."""
        return SSHConfig(site=self.name, **{name: getattr(self, name) for name in SSHSettings.model_fields})


@dataclass
class Site:
    """Live objects for one centre."""

    config: SiteConfig
    transport: Transport
    scheduler: Scheduler
    runtime: ContainerRuntime

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def image_cache_dir(self) -> str:
        return self.config.image_cache_dir or f"{self.config.work_root}/.images"

    @property
    def image_roots(self) -> tuple[str, ...]:
        """Directories on the centre that job images must lie in (checked by verify_image)."""
        return self.config.effective_image_roots()

    def partition_for(self, spec: JobSpec) -> str | None:
        """The partition the job will use, refused early if the site does not allow it."""
        partition = spec.partition or self.config.default_partition
        allowed = self.config.partitions
        if partition and allowed and partition not in allowed:
            raise SpecError(f"partition '{partition}' is not offered to HEROES", site=self.name,
                            fix=f"choose one of: {', '.join(allowed)}")
        return partition

    def check_limits(self, spec: JobSpec) -> None:
        limits = self.config.limits
        for asked, limit, what in (
            (spec.cores, limits.max_cores_per_job, "cores"),
            (spec.nodes, limits.max_nodes_per_job, "nodes"),
            (spec.time_limit_minutes, limits.max_time_limit_minutes, "minutes of time limit"),
            (spec.output_limit_mb or 0, limits.max_output_mb, "MiB of output"),
        ):
            if asked > limit:
                raise SpecError(f"the job asks for {asked} {what}; this centre allows {limit}",
                                site=self.name, fix=f"ask for at most {limit} {what}")
        self._check_gpus(spec)

    def _check_gpus(self, spec: JobSpec) -> None:
        """Refuse, before anything is staged or submitted, GPUs the partition does not have.

        The batch system would refuse such a job only at submission (or leave it pending for
        ever), after its inputs were staged and its budget reserved. Counts are per node, as
        in the job's request.
        """
        if spec.gpus == 0:
            return
        partition = spec.partition or self.config.default_partition
        where = f"partition '{partition}'" if partition else "the default partition"
        asked = f"{spec.gpus} {spec.gpu_type + ' ' if spec.gpu_type else ''}GPU(s) per node"
        if not self.scheduler.gives_gpus:
            raise SpecError(f"the job asks for {asked}; this centre's scheduler "
                            f"'{self.scheduler.name}' cannot give GPUs", site=self.name,
                            fix="run GPU jobs on a centre with a batch system (e.g. Slurm), or "
                                "ask for gpus=0")
        declared = self.config.partition_gpus(partition)
        if declared is None:
            problem = "which has none"
        elif spec.gpu_type is not None and spec.gpu_type != declared.type:
            problem = f"which has {declared.describe()}" + ("" if declared.type else
                                                             " of no declared type")
        elif spec.gpus > declared.per_node:
            problem = f"which has {declared.describe()}"
        else:
            return
        raise SpecError(f"the job asks for {asked} on {where}, {problem}", site=self.name,
                        fix=self._gpu_fix(spec))

    def _gpu_fix(self, spec: JobSpec) -> str:
        """Where the request would fit on this centre, or what to change in it."""
        def fits(gpus: PartitionGPUs) -> bool:
            return 0 < spec.gpus <= gpus.per_node and spec.gpu_type in (None, gpus.type)

        declared = self.config.gpus
        named = [f"partition '{name}' ({gpus.describe()})" for name, gpus in sorted(declared.items())
                 if name != ANY_PARTITION and fits(gpus)]
        default = declared.get(ANY_PARTITION)
        if default is not None and fits(default):
            others = [name for name in self.config.partitions if name not in declared]
            named += [f"partition '{name}' ({default.describe()})" for name in others]
            if not self.config.partitions:
                named.append(f"a partition not named above ({default.describe()})" if named
                             else f"another partition ({default.describe()})")
        if named:
            return "choose " + " or ".join(named)
        offered = [f"'{name}': {gpus.describe()}" for name, gpus in sorted(declared.items())
                   if gpus.per_node > 0]
        if offered:
            return ("ask for what a partition has (" + "; ".join(offered) + "), e.g. fewer GPUs "
                    "per node on more nodes, or no GPU type")
        return "this centre declares no GPUs: run the job elsewhere, or ask for gpus=0"

    def output_limit_bytes(self, spec: JobSpec) -> int:
        """What the job may write: its own limit if it set a lower one, else the centre's."""
        return min(spec.output_limit_mb or self.config.limits.max_output_mb,
                   self.config.limits.max_output_mb) * 1024 * 1024


def open_site(config: SiteConfig) -> Site:
    """Build the site's objects; SSH transports are shared process-wide per configuration (and,
    with the 'openssh' backend, one master connection by every process on the host)."""
    transport: Transport
    if config.transport == "ssh":
        transport = shared_transport(config.ssh_config())
    else:
        transport = LocalTransport(config.name, command_timeout=config.command_timeout)
    scheduler = scheduler_named(config.scheduler, transport, config.work_root)
    return Site(config=config, transport=transport, scheduler=scheduler,
                runtime=runtime_named(config.container_runtime))
