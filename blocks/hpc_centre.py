"""The HPC centre block: how HEROES reaches a centre as its service account."""

from __future__ import annotations

from typing import Literal

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from heroes.blocks._common import DOCS_URL, LOGO_BASE_URL, core_setting
from heroes_core.containers import RuntimeName
from heroes_core.energy import PowerModel
from heroes_core.schedulers import SchedulerName
from heroes_core.sites import CloudBinding, ImageRoot, PartitionGPUs, Site, SiteConfig, SiteLimits, open_site
from heroes_core.transport import SSHSettings


class HPCCentre(Block):
    """An HPC centre (a Slurm cluster) reached over SSH from its login node.

    HEROES runs every job of every user as the centre's HEROES service account,
    in a per-organisation, per-user directory below the work root; no root
    access is needed on the centre.
    """

    _block_type_name = "HEROES HPC Centre"
    _block_type_slug = "heroes-hpc-centre"
    _logo_url = LOGO_BASE_URL + "hpc_centre.png"  # type: ignore[assignment]
    _documentation_url = DOCS_URL + "#hpc-centres"  # type: ignore[assignment]
    _description = "An HPC centre (Slurm over SSH) where HEROES runs containerised jobs."
    _code_example = """
    from heroes.blocks import HPCCentre

    centre = HPCCentre.load("BLOCK_NAME")
    site = centre.site()
    print(site.scheduler.partitions())
    """

    # The core defines these settings (heroes_core.transport.SSHSettings, heroes_core.sites);
    # the block lists them in the order of its form. Only host_key is the block's own: the
    # pinned keys as text, one per line, as an admin pastes them.
    host: str = core_setting(SiteConfig, "host")
    port: int = core_setting(SiteConfig, "port")
    user: str = core_setting(SiteConfig, "user")
    private_key: SecretStr = core_setting(SSHSettings, "private_key")  # required here
    host_key: str = Field(
        default="",
        description=("Pinned public host key(s) of the login node, one per line, as printed by "
                     "`ssh-keyscan` (e.g. 'ssh-ed25519 AAAA...'). Unknown keys are refused."))
    known_hosts_path: str | None = core_setting(SiteConfig, "known_hosts_path")
    scheduler: SchedulerName = core_setting(SiteConfig, "scheduler")
    min_poll_interval_s: float = core_setting(SiteConfig, "min_poll_interval_s")
    partitions: tuple[str, ...] = core_setting(SiteConfig, "partitions")
    default_partition: str | None = core_setting(SiteConfig, "default_partition")
    work_root: str = core_setting(SiteConfig, "work_root")
    container_runtime: RuntimeName = core_setting(SiteConfig, "container_runtime")
    image_cache_dir: str | None = core_setting(SiteConfig, "image_cache_dir")
    image_roots: tuple[ImageRoot, ...] = core_setting(SiteConfig, "image_roots")
    image_cache_gb: float = core_setting(SiteConfig, "image_cache_gb")
    max_cores_per_job: int = core_setting(SiteLimits, "max_cores_per_job")
    max_nodes_per_job: int = core_setting(SiteLimits, "max_nodes_per_job")
    max_time_limit_minutes: int = core_setting(SiteLimits, "max_time_limit_minutes")
    max_output_mb: int = core_setting(SiteLimits, "max_output_mb")
    power_models: dict[str, PowerModel] = core_setting(SiteConfig, "power_models")
    gpus: dict[str, PartitionGPUs] = core_setting(SiteConfig, "gpus")
    cloud: CloudBinding | None = core_setting(SiteConfig, "cloud")
    archive_bandwidth_gbps: float = core_setting(SiteConfig, "archive_bandwidth_gbps")
    max_channels: int = core_setting(SiteConfig, "max_channels")
    connect_timeout: float = core_setting(SiteConfig, "connect_timeout")
    command_timeout: float = core_setting(SiteConfig, "command_timeout")
    backend: Literal["paramiko", "openssh"] = core_setting(SiteConfig, "backend")
    mfa: bool = core_setting(SiteConfig, "mfa")
    control_persist_s: int = core_setting(SiteConfig, "control_persist_s")

    def site_config(self) -> SiteConfig:
        """The centre as the core library sees it."""
        fields = type(self).model_fields
        return SiteConfig(
            name=self._block_document_name or self.host,
            host_keys=tuple(line.strip() for line in self.host_key.splitlines() if line.strip()),
            limits=SiteLimits(**{name: getattr(self, name) for name in SiteLimits.model_fields}),
            **{name: getattr(self, name) for name in SiteConfig.model_fields if name in fields},
        )

    def site(self) -> Site:
        """Live transport, scheduler and runtime; the SSH connection is shared per process."""
        return open_site(self.site_config())
