"""The HPC centre block: its form is the core's centre settings, and it carries them into
the core configuration."""

from typing import Any

import pytest
from pydantic import ValidationError

from heroes.blocks import HPCCentre
from heroes_core.sites import PartitionGPUs, SiteConfig, SiteLimits
from heroes_core.transport import SSHSettings

# SiteConfig settings the block does not show: the name is the block's name, the transport is
# always SSH, and the pinned keys are the block's host_key text; the limits are shown flat.
NOT_IN_THE_FORM = {"name", "transport", "host_keys", "limits"}


def centre(**fields: object) -> HPCCentre:
    return HPCCentre(host="h", user="svc", private_key="key", work_root="/scratch/heroes",  # type: ignore[arg-type]
                     **fields)


def test_the_image_roots_field_is_documented_and_defaults_to_the_work_roots_images_dir() -> None:
    field = HPCCentre.model_fields["image_roots"]
    assert field.description and "image" in field.description and "<work_root>/images" in field.description
    block = centre()
    assert block.image_roots == ()
    assert block.site_config().image_roots == ()
    assert block.site_config().effective_image_roots() == ("/scratch/heroes/images",)


def test_the_image_roots_reach_the_site() -> None:
    block = centre(image_roots=["/apps/images", "/scratch/shared/"])
    assert block.site_config().image_roots == ("/apps/images", "/scratch/shared")


def test_a_relative_image_root_is_refused_when_the_block_is_made() -> None:
    with pytest.raises(ValidationError, match="image root 'images' must be an absolute path"):
        centre(image_roots=["images"])


def test_every_centre_setting_of_the_core_is_a_field_of_the_block_defined_by_the_core() -> None:
    core = {name: field for name, field in SiteConfig.model_fields.items() if name not in NOT_IN_THE_FORM}
    core |= SiteLimits.model_fields
    core["private_key"] = SSHSettings.model_fields["private_key"]  # required in the block
    block = {name: field for name, field in HPCCentre.model_fields.items() if name != "host_key"}
    assert set(block) == set(core)
    for name, field in block.items():
        expected = core[name]
        assert (field.annotation, field.default, field.metadata, field.description) == (
            expected.annotation, expected.default, expected.metadata, expected.description), name
        assert field.description, name


def test_bounds_come_from_the_core() -> None:
    with pytest.raises(ValidationError, match="port"):
        centre(port=70000)
    with pytest.raises(ValidationError, match="max_channels"):
        centre(max_channels=65)
    with pytest.raises(ValidationError, match="max_cores_per_job"):
        centre(max_cores_per_job=0)


# A centre block document as Prefect stored it (the JSON of every field of the block).
SAVED: dict[str, Any] = {
    "host": "login.hpc.example.org", "port": 2222, "user": "heroes", "private_key": "-----KEY-----",
    "host_key": "ssh-ed25519 AAAA1\n\n@revoked ssh-rsa AAAA2\n", "known_hosts_path": None,
    "scheduler": "slurm", "partitions": ["standard", "gpu"], "default_partition": "standard",
    "work_root": "/scratch/heroes", "container_runtime": "charliecloud", "image_cache_dir": None,
    "image_roots": ["/apps/containers/"], "max_cores_per_job": 256, "max_nodes_per_job": 4,
    "max_time_limit_minutes": 600, "max_channels": 6, "connect_timeout": 5.0, "command_timeout": 30.0,
}


def test_a_saved_block_loads_and_saves_the_same_document() -> None:
    block = HPCCentre.model_validate(SAVED)
    dumped = block.model_dump(mode="json", context={"include_secrets": True})
    # a document saved before the SSH backend could be chosen loads as paramiko, as it always was
    assert {name: dumped.pop(name) for name in ("backend", "mfa", "control_persist_s")} == {
        "backend": "paramiko", "mfa": False, "control_persist_s": 600}
    # a document saved before max_output_mb, image_cache_gb, power_models and gpus existed loads
    # with the defaults
    assert dumped == SAVED | {"image_roots": ["/apps/containers"], "block_type_slug": "heroes-hpc-centre",
                              "max_output_mb": 20 * 1024, "image_cache_gb": 50.0, "power_models": {},
                              "cloud": None, "archive_bandwidth_gbps": 1.0,
                              "gpus": {}, "min_poll_interval_s": 10.0}


def test_the_core_configuration_of_a_saved_block() -> None:
    config = HPCCentre.model_validate(SAVED).site_config()
    assert config == SiteConfig(
        name="login.hpc.example.org", host="login.hpc.example.org", port=2222, user="heroes",
        private_key="-----KEY-----",  # type: ignore[arg-type]
        host_keys=("ssh-ed25519 AAAA1", "@revoked ssh-rsa AAAA2"), partitions=("standard", "gpu"),
        default_partition="standard", work_root="/scratch/heroes", container_runtime="charliecloud",
        image_roots=("/apps/containers",),
        limits=SiteLimits(max_cores_per_job=256, max_nodes_per_job=4, max_time_limit_minutes=600),
        max_channels=6, connect_timeout=5.0, command_timeout=30.0)
    ssh = config.ssh_config()
    assert (ssh.site, ssh.host, ssh.port, ssh.max_channels, ssh.command_timeout) == (
        "login.hpc.example.org", "login.hpc.example.org", 2222, 6, 30.0)


def test_the_gpus_a_centre_declares_per_partition_reach_its_site() -> None:
    block = centre(partitions=["standard", "gpu"], gpus={"gpu": {"per_node": 4, "type": "a100"}})
    assert block.site_config().partition_gpus("gpu") == PartitionGPUs(per_node=4, type="a100")
    assert block.site_config().partition_gpus("standard") is None
    with pytest.raises(ValidationError, match="not a valid partition name"):
        centre(gpus={"gpu partition": {"per_node": 4}}).site_config()
