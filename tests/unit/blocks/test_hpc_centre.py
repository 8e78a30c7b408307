"""The HPC centre block carries the centre's allowed image roots into the core configuration."""

import pytest
from pydantic import ValidationError

from heroes.blocks import HPCCentre


def centre(**fields: object) -> HPCCentre:
    return HPCCentre(host="h", user="svc", private_key="key", work_root="/scratch/heroes",  # type: ignore[arg-type]
                     **fields)


def test_the_image_roots_field_is_documented_and_defaults_to_the_work_roots_images_dir() -> None:
    field = HPCCentre.model_fields["image_roots"]
    assert field.description and "image" in field.description and "<work_root>/images" in field.description
    block = centre()
    assert block.image_roots == []
    assert block.site_config().image_roots == ()
    assert block.site_config().effective_image_roots() == ("/scratch/heroes/images",)


def test_the_image_roots_reach_the_site() -> None:
    block = centre(image_roots=["/apps/images", "/scratch/shared/"])
    assert block.site_config().image_roots == ("/apps/images", "/scratch/shared")


def test_a_relative_image_root_is_refused_when_the_block_is_made() -> None:
    with pytest.raises(ValidationError, match="image root 'images' must be an absolute path"):
        centre(image_roots=["images"])
