"""The archive's layout keeps organisations, users and HEROES' own objects apart."""

import pytest
from pydantic import SecretStr, ValidationError

from heroes_core.data import HEROES_PREFIX, S3Endpoint
from heroes_core.errors import SpecError
from heroes_core.models import NAME_PATTERN, UserArea


def archive(template: str = "heroes-{organisation}") -> S3Endpoint:
    return S3Endpoint(endpoint_url="http://s3", access_key_id="k", secret_access_key=SecretStr("s"),
                      bucket_template=template)


def test_each_organisation_has_its_own_bucket_and_names_are_not_folded() -> None:
    assert archive().bucket(UserArea(organisation="acme", user="ada")) == "heroes-acme"
    assert archive().bucket(UserArea(organisation="acme-eu", user="ada")) == "heroes-acme-eu"
    with pytest.raises(SpecError, match="organisation name 'ACME' is not valid"):
        archive().bucket_for("ACME")


def test_heroes_objects_live_below_a_prefix_no_user_name_can_be() -> None:
    import re
    assert archive().heroes_prefix("acme") == f"heroes-acme/{HEROES_PREFIX}"
    assert not re.fullmatch(NAME_PATTERN, HEROES_PREFIX)
    for user in ("acme", "Acme", "heroes-acme", "ada"):  # a user named like the organisation
        assert not archive().user_prefix(UserArea(organisation="acme", user=user)).startswith(
            archive().heroes_prefix("acme"))


@pytest.mark.parametrize("template", ["heroes", "heroes-{organisation}-{organisation}",
                                      "heroes-{user}-{organisation}", "Heroes-{organisation}",
                                      "heroes_{organisation}", "{organisation}" + "x" * 40,
                                      "heroes--{organisation}"])
def test_bucket_templates_that_could_merge_or_break_buckets_are_refused(template: str) -> None:
    with pytest.raises(ValidationError, match=f"bucket template {template!r}"):
        archive(template)
