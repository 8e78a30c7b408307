"""The cluster's service-account key pair: made once, kept as exactly the pair."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_ssh_private_key

from heroes_core.cloud.service_keys import ServiceKeys


def test_a_generated_pair_is_an_ed25519_openssh_pair_that_belongs_together() -> None:
    keys = ServiceKeys.generate()
    private = load_ssh_private_key(keys.private.get_secret_value().encode(), password=None)
    assert keys.public.startswith("ssh-ed25519 ")
    assert private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode() == keys.public
    assert "PRIVATE KEY" not in repr(keys) and ServiceKeys.generate().public != keys.public


def test_the_pair_round_trips_through_what_the_secret_keeps() -> None:
    keys = ServiceKeys.generate()
    assert set(keys.to_stored()) == {"service_private", "service_public"}
    assert ServiceKeys.from_stored(keys.to_stored()) == keys


def test_anything_stored_beside_the_pair_is_not_kept() -> None:
    keys = ServiceKeys.generate()
    stored = {**keys.to_stored(), "host_private": "-----BEGIN OPENSSH PRIVATE KEY-----", "host_public": "x"}
    found = ServiceKeys.from_stored(stored)
    assert found == keys and found is not None and found.to_stored() != stored


@pytest.mark.parametrize("stored", [None, "a string", {}, {"service_private": "x"},
                                    {"service_private": "", "service_public": "y"}])
def test_a_secret_without_the_pair_holds_none(stored: object) -> None:
    assert ServiceKeys.from_stored(stored) is None
