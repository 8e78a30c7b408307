"""A site: a centre's transport, scheduler, container runtime and limits, wired once.

The Prefect block stores a :class:`SiteConfig`; :func:`open_site` turns it into
live objects, sharing one SSH connection per site across the whole process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from heroes_core.containers import ContainerRuntime, RuntimeName, runtime_named
from heroes_core.energy import PowerModel, power_model_for
from heroes_core.errors import SpecError
from heroes_core.models import JobSpec
from heroes_core.schedulers import DEFAULT_SCHEDULER, Scheduler, SchedulerName, scheduler_named
from heroes_core.transport import LocalTransport, SSHConfig, SSHSettings, Transport, shared_ssh_transport


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


def image_root(value: str) -> str:
    """An allowed image root: an absolute path on the centre, without a trailing slash."""
    if not value.startswith("/") or "\n" in value or "\x00" in value:
        raise ValueError(f"image root {value!r} must be an absolute path on the centre "
                         "(e.g. /scratch/heroes/images)")
    return value.rstrip("/") or "/"


ImageRoot = Annotated[str, AfterValidator(image_root)]


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

    def output_limit_bytes(self, spec: JobSpec) -> int:
        """What the job may write: its own limit if it set a lower one, else the centre's."""
        return min(spec.output_limit_mb or self.config.limits.max_output_mb,
                   self.config.limits.max_output_mb) * 1024 * 1024


def open_site(config: SiteConfig) -> Site:
    """Build the site's objects; SSH transports are shared process-wide per configuration."""
    transport: Transport
    if config.transport == "ssh":
        transport = shared_ssh_transport(config.ssh_config())
    else:
        transport = LocalTransport(config.name, command_timeout=config.command_timeout)
    scheduler = scheduler_named(config.scheduler, transport, config.work_root)
    return Site(config=config, transport=transport, scheduler=scheduler,
                runtime=runtime_named(config.container_runtime))
