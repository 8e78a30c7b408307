"""A site: a centre's transport, scheduler, container runtime and limits, wired once.

The Prefect block stores a :class:`SiteConfig`; :func:`open_site` turns it into
live objects, sharing one SSH connection per site across the whole process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from heroes_core.containers import ContainerRuntime, runtime_named
from heroes_core.errors import SpecError
from heroes_core.models import JobSpec
from heroes_core.schedulers import Scheduler, scheduler_named
from heroes_core.transport import LocalTransport, SSHConfig, Transport, shared_ssh_transport


class SiteLimits(BaseModel):
    """What one job may ask of a centre, checked before anything is submitted."""

    model_config = ConfigDict(frozen=True)

    max_cores_per_job: int = Field(default=1024, ge=1)
    max_nodes_per_job: int = Field(default=64, ge=1)
    max_time_limit_minutes: int = Field(default=24 * 60, ge=1)


def image_root(value: str) -> str:
    """An allowed image root: an absolute path on the centre, without a trailing slash."""
    if not value.startswith("/") or "\n" in value or "\x00" in value:
        raise ValueError(f"image root {value!r} must be an absolute path on the centre "
                         "(e.g. /scratch/heroes/images)")
    return value.rstrip("/") or "/"


class SiteConfig(BaseModel):
    """Everything HEROES needs to know to run jobs on one centre."""

    model_config = ConfigDict(frozen=True)

    name: str
    host: str
    port: int = 22
    user: str
    private_key: SecretStr = SecretStr("")
    host_keys: tuple[str, ...] = ()
    known_hosts_path: str | None = None
    transport: Literal["ssh", "local"] = "ssh"
    scheduler: Literal["slurm", "local"] = "slurm"
    partitions: tuple[str, ...] = ()
    default_partition: str | None = None
    work_root: str
    container_runtime: Literal["apptainer", "singularity", "charliecloud"] = "apptainer"
    image_cache_dir: str | None = None
    # Jobs may only use image files inside one of these (after links are resolved on the
    # centre); empty means <work_root>/images.
    image_roots: tuple[str, ...] = ()
    limits: SiteLimits = SiteLimits()
    max_channels: int = 8
    connect_timeout: float = 10.0
    command_timeout: float = 60.0

    @field_validator("image_roots")
    @classmethod
    def _image_roots(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(image_root(root) for root in value)

    def effective_image_roots(self) -> tuple[str, ...]:
        """The image roots in force: the configured ones, else ``<work_root>/images``."""
        return self.image_roots or (f"{self.work_root.rstrip('/')}/images",)

    def ssh_config(self) -> SSHConfig:
        return SSHConfig(site=self.name, host=self.host, port=self.port, user=self.user,
                         private_key=self.private_key, host_keys=self.host_keys,
                         known_hosts_path=self.known_hosts_path,
                         connect_timeout=self.connect_timeout,
                         command_timeout=self.command_timeout, max_channels=self.max_channels)


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
        ):
            if asked > limit:
                raise SpecError(f"the job asks for {asked} {what}; this centre allows {limit}",
                                site=self.name, fix=f"ask for at most {limit} {what}")


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
