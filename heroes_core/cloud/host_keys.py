"""A cloud node's SSH host key: generated on the node, learnt by HEROES from its serial console.

HEROES never makes, sees or ships a node's host *private* key (user-data is
readable from the metadata service by any process on the node and is kept in
the Terraform state). Instead:

1. cloud-init on the node deletes any host key baked into the image and
   generates an ed25519 key on first boot (``ssh_deletekeys``,
   ``ssh_genkeytypes`` in ``terraform/shared/cloud-init.yaml.tpl``);
2. the node prints the *public* key on its serial console at every boot,
   between :data:`HOST_KEY_BEGIN` and :data:`HOST_KEY_END` (a cloud-init
   per-boot script writing to ``/dev/console``), and cloud-init's
   ``keys_to_console`` prints it once more in its
   ``-----BEGIN SSH HOST KEY KEYS-----`` block;
3. HEROES reads the console through the provider's API, the channel both clouds
   document for checking a new instance's host key: EC2 ``GetConsoleOutput``
   (``Latest=True`` on Nitro, the buffered output otherwise), OCI
   ``CaptureConsoleHistory`` + ``GetConsoleHistoryContent`` (see
   :meth:`heroes_core.cloud.base.NodeProvider.read_host_keys`);
4. :func:`pin_host_key` decides what to pin: the one key the console shows; the
   key pinned before if the console no longer shows one (EC2 keeps console
   output only for a while); an error if there is none, if the console shows
   two different keys, or if it shows a key other than the one pinned before.
   Nothing is ever trusted on first use over SSH.

Only root writes to the serial console, so a job on the node cannot print a key
of its own there.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Sequence

from heroes_core.errors import HostKeyError

HOST_KEY_BEGIN = "-----BEGIN HEROES HOST KEY-----"
HOST_KEY_END = "-----END HEROES HOST KEY-----"
CLOUD_INIT_BEGIN = "-----BEGIN SSH HOST KEY KEYS-----"
CLOUD_INIT_END = "-----END SSH HOST KEY KEYS-----"
KEY_TYPE = "ssh-ed25519"
_LINE = re.compile(r"^(ssh-ed25519) ([A-Za-z0-9+/]+={0,2})(?: \S.*)?$")


def _valid_ed25519(blob: str) -> bool:
    """True when ``blob`` is the base64 of an SSH ed25519 public key (type string + 32 bytes)."""
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return False
    name = KEY_TYPE.encode()
    head = struct.pack(">I", len(name)) + name + struct.pack(">I", 32)
    return len(raw) == len(head) + 32 and raw.startswith(head)


def host_keys_from_console(text: str) -> list[str]:
    """The distinct ed25519 host keys (``"ssh-ed25519 BASE64"``) printed between the markers.

    Lines outside a complete HEROES or cloud-init key block, and malformed keys,
    are ignored; the order is that of first appearance.
    """
    keys: list[str] = []
    block: list[str] | None = None
    end = ""
    for raw in text.splitlines():
        line = raw.strip()
        if block is None:
            if line in (HOST_KEY_BEGIN, CLOUD_INIT_BEGIN):
                block, end = [], HOST_KEY_END if line == HOST_KEY_BEGIN else CLOUD_INIT_END
            continue
        if line == end:
            keys += [k for k in block if k not in keys]
            block = None
            continue
        match = _LINE.match(line)
        if match and _valid_ed25519(match.group(2)):
            block.append(f"{match.group(1)} {match.group(2)}")
    return keys


def pin_host_key(observed: Sequence[str], pinned: str | None, *, site: str, node: str) -> str:
    """The host key to pin for ``node``, from the keys its console showed and the key pinned before.

    Raises :class:`HostKeyError` (never trusts a key silently) when there is
    nothing to pin, when the console shows more than one key, or when it shows a
    key other than the one pinned before.
    """
    keys = list(dict.fromkeys(observed))
    before = pinned.strip() if pinned else None
    if len(keys) > 1:
        raise HostKeyError(
            f"the console of {node} shows {len(keys)} different SSH host keys; HEROES cannot tell which "
            f"is the node's", site=site,
            fix="look at the node's console output in the provider's console; replace the node if it "
                "was tampered with")
    if keys and before and keys[0] != before:
        raise HostKeyError(
            f"the SSH host key on the console of {node} ({keys[0][:40]}...) differs from the key pinned "
            f"before ({before[:40]}...)", site=site,
            fix="if the headnode was rebuilt on purpose, check the new key with the cloud admins and delete "
                "the old HPCCentre block before running the flow again; otherwise treat the node as "
                "compromised")
    if keys:
        return keys[0]
    if before:
        return before
    raise HostKeyError(
        f"could not read the SSH host key of {node} from its serial console, and no key was pinned before",
        site=site,
        fix="wait until the node has finished booting (cloud-init prints the key at the end of its first "
            "boot) and run the flow again, or raise host_key_timeout; look at the node's console output "
            "for a '-----BEGIN HEROES HOST KEY-----' block. HEROES never trusts a host key on first use")
