"""The HPC centre block: how HEROES reaches a centre as its service account."""

from __future__ import annotations

from typing import Literal

from prefect.blocks.core import Block
from pydantic import Field, SecretStr, field_validator

from heroes.blocks._common import DOCS_URL, LOGO_BASE_URL
from heroes_core.sites import Site, SiteConfig, SiteLimits, image_root, open_site


class HPCCentre(Block):
    """An HPC centre (a Slurm cluster) reached over SSH from its login node.

    HEROES runs every job of every user as the centre's HEROES service account,
    in a per-organisation, per-user directory below the work root; no root
    access is needed on the centre.
    """

    _block_type_name = "HEROES HPC Centre"
    _block_type_slug = "heroes-hpc-centre"
    _logo_url = LOGO_BASE_URL + "hpc_centre.png"  # type: ignore[assignment]
    _documentation_url = DOCS_URL + "#register-a-centre"  # type: ignore[assignment]
    _description = "An HPC centre (Slurm over SSH) where HEROES runs containerised jobs."
    _code_example = """
    from heroes.blocks import HPCCentre

    centre = HPCCentre.load("BLOCK_NAME")
    site = centre.site()
    print(site.scheduler.partitions())
    """

    host: str = Field(description="Login node host name or address.")
    port: int = Field(default=22, ge=1, le=65535, description="SSH port of the login node.")
    user: str = Field(description="The centre's HEROES service account (an unprivileged user).")
    private_key: SecretStr = Field(
        description="Private SSH key of the service account (OpenSSH or PEM format, unencrypted).")
    host_key: str = Field(
        default="",
        description=("Pinned public host key(s) of the login node, one per line, as printed by "
                     "`ssh-keyscan` (e.g. 'ssh-ed25519 AAAA...'). Unknown keys are refused."))
    known_hosts_path: str | None = Field(
        default=None, description="Optional known_hosts file with the pinned host key, instead of host_key.")
    scheduler: Literal["slurm", "local"] = Field(
        default="slurm", description="Batch system on the centre ('local' runs background processes).")
    partitions: list[str] = Field(
        default_factory=list,
        description="Partitions (queues) HEROES may use; empty means any the centre offers.")
    default_partition: str | None = Field(
        default=None, description="Partition used when a job names none; None uses Slurm's default.")
    work_root: str = Field(description="Directory on the centre under which job directories are made.")
    container_runtime: Literal["apptainer", "singularity", "charliecloud"] = Field(
        default="apptainer", description="Container runtime installed on the centre's compute nodes.")
    image_cache_dir: str | None = Field(
        default=None, description="Where unpacked images are cached; defaults to <work_root>/.images.")
    image_roots: list[str] = Field(
        default_factory=list,
        description=("Directories on the centre where container images are published (absolute "
                     "paths). A job's image must be a regular file inside one of them once "
                     "symbolic links are resolved on the centre; empty means <work_root>/images."))
    max_cores_per_job: int = Field(default=1024, ge=1, description="Largest core count one job may ask.")
    max_nodes_per_job: int = Field(default=64, ge=1, description="Largest node count one job may ask.")
    max_time_limit_minutes: int = Field(
        default=24 * 60, ge=1, description="Longest time limit, in minutes, one job may ask.")
    max_channels: int = Field(
        default=8, ge=1, le=64,
        description="Concurrent SSH channels on the one connection; keep below sshd's MaxSessions.")
    connect_timeout: float = Field(default=10.0, gt=0, description="Seconds to wait for the SSH connection.")
    command_timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for one remote command.")

    @field_validator("image_roots")
    @classmethod
    def _image_roots(cls, value: list[str]) -> list[str]:
        return [image_root(root) for root in value]

    def site_config(self) -> SiteConfig:
        """The centre as the core library sees it."""
        return SiteConfig(
            name=self._block_document_name or self.host,
            host=self.host, port=self.port, user=self.user, private_key=self.private_key,
            host_keys=tuple(line.strip() for line in self.host_key.splitlines() if line.strip()),
            known_hosts_path=self.known_hosts_path, scheduler=self.scheduler,
            partitions=tuple(self.partitions), default_partition=self.default_partition,
            work_root=self.work_root, container_runtime=self.container_runtime,
            image_cache_dir=self.image_cache_dir, image_roots=tuple(self.image_roots),
            limits=SiteLimits(max_cores_per_job=self.max_cores_per_job,
                              max_nodes_per_job=self.max_nodes_per_job,
                              max_time_limit_minutes=self.max_time_limit_minutes),
            max_channels=self.max_channels, connect_timeout=self.connect_timeout,
            command_timeout=self.command_timeout,
        )

    def site(self) -> Site:
        """Live transport, scheduler and runtime; the SSH connection is shared per process."""
        return open_site(self.site_config())
