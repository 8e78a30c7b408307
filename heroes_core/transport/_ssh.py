"""Run commands on a centre's login node over one long-lived SSH connection.

All jobs and polls for a site share one paramiko transport (why: a handshake per
command caps throughput; see docs/decisions/0001-one-ssh-connection-per-centre.md),
with ``TCP_NODELAY`` (Nagle's algorithm would hold back each short command behind
delayed ACKs) and at most ``max_channels`` concurrent session channels (sshd
refuses more than its ``MaxSessions``).

Host keys are pinned: the server's key must equal one given in the
configuration or in a known_hosts file; nothing is ever auto-accepted. A key
marked ``@revoked`` in either place is refused even where it is also pinned.
The server may show a key of any type (the pinned types are asked for first),
so that a server without the pinned type is reported as a host-key problem
naming both keys, never as an unreachable host.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Self

import paramiko
from paramiko.ssh_exception import IncompatiblePeer
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from heroes_core.errors import (
    AuthenticationError,
    CommandTimeoutError,
    ConnectionLostError,
    HostKeyError,
    UnreachableError,
)
from heroes_core.transport._base import (
    DEFAULT_COMMAND_TIMEOUT,
    CommandResult,
    Transport,
    shell_join,
)

logger = logging.getLogger(__name__)

_READ_CHUNK = 65536
# Host key algorithms HEROES asks for, by key type. RSA keys are checked with SHA-2
# signatures only (paramiko, like OpenSSH, no longer accepts ssh-rsa's SHA-1).
_KEY_TYPES_FOR = {
    "ssh-ed25519": ("ssh-ed25519",),
    "ecdsa-sha2-nistp256": ("ecdsa-sha2-nistp256",),
    "ecdsa-sha2-nistp384": ("ecdsa-sha2-nistp384",),
    "ecdsa-sha2-nistp521": ("ecdsa-sha2-nistp521",),
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256"),
}
# ssh-keyscan's -t name for each key type, for the fix in error messages.
_KEYSCAN_TYPE = {"ssh-ed25519": "ed25519", "ssh-rsa": "rsa", "ecdsa-sha2-nistp256": "ecdsa",
                 "ecdsa-sha2-nistp384": "ecdsa", "ecdsa-sha2-nistp521": "ecdsa"}
REVOKED = "@revoked"
HostKey = tuple[str, str]


class SSHSettings(BaseModel):
    """How HEROES reaches a centre's login node as its service account.

    Each setting (default, bounds, description) is defined here once: :class:`SSHConfig`
    (one connection) and ``heroes_core.sites.SiteConfig`` (a whole centre) extend this
    model, and the HPC centre block's form takes its fields from them.
    """

    model_config = ConfigDict(frozen=True)

    host: str = Field(description="Login node host name or address.")
    port: int = Field(default=22, ge=1, le=65535, description="SSH port of the login node.")
    user: str = Field(description="The centre's HEROES service account (an unprivileged user).")
    private_key: SecretStr = Field(
        description="Private SSH key of the service account (OpenSSH or PEM format, unencrypted).")
    host_keys: tuple[str, ...] = Field(
        default=(),
        description=("Pinned public host keys of the login node, as printed by `ssh-keyscan` "
                     "(e.g. 'ssh-ed25519 AAAA...'); a key marked '@revoked' is refused."))
    known_hosts_path: str | None = Field(
        default=None,
        description="Optional known_hosts file with the pinned host key, instead of giving the key itself.")
    max_channels: int = Field(
        default=8, ge=1, le=64,
        description="Concurrent SSH channels on the one connection; keep below sshd's MaxSessions.")
    connect_timeout: float = Field(default=10.0, gt=0, description="Seconds to wait for the SSH connection.")
    command_timeout: float = Field(
        default=DEFAULT_COMMAND_TIMEOUT, gt=0, description="Seconds to wait for one remote command.")
    backend: Literal["paramiko", "openssh"] = Field(
        default="paramiko",
        description=("How HEROES speaks SSH: 'paramiko' (its own connection in each process) or "
                     "'openssh' (the system ssh, over one connection shared by every process on the "
                     "orchestrator host: needed for login nodes that ask for a second factor)."))
    control_persist_s: int = Field(
        default=600, ge=0, le=30 * 86400,
        description=("'openssh' backend: seconds the shared connection stays open with no command "
                     "running; 0 keeps it open until `heroes centre disconnect`."))
    mfa: bool = Field(
        default=False,
        description=("The login node asks for a second factor (MFA), so HEROES cannot log in alone: "
                     "an admin opens the shared connection once with `heroes centre connect NAME` and "
                     "flows use it while it stays open. Needs the 'openssh' backend."))

    @model_validator(mode="after")
    def _mfa_needs_openssh(self) -> Self:
        """paramiko logs in per process and cannot answer a prompt: MFA needs the shared master."""
        if self.mfa and self.backend != "openssh":
            raise ValueError("mfa needs backend 'openssh' (an admin opens one shared connection that "
                             "flows use; paramiko cannot answer a second-factor prompt)")
        return self


class SSHConfig(SSHSettings):
    """One SSH connection: the settings, the site its errors name, and how it reconnects."""

    site: str
    reconnect_attempts: int = Field(default=5, ge=1)
    backoff_initial: float = 0.5
    backoff_max: float = 8.0

    def known_hosts(self) -> str:
        """known_hosts lines pinning the login node, for tools other than paramiko (rclone,
        Ansible): the pinned keys (revocations kept as ``@revoked``) and ``known_hosts_path``."""
        where = f"[{self.host}]:{self.port}" if self.port != 22 else self.host
        lines = []
        for line in (k for k in self.host_keys if k.strip()):
            marker, rest = _split_marker(line)
            lines.append(f"{marker} {where} {rest}" if marker else f"{where} {rest}")
        if self.known_hosts_path:
            with open(self.known_hosts_path) as handle:
                lines += [line.strip() for line in handle if line.strip()]
        return "\n".join(lines)


def fingerprint(key_type: str, key_b64: str) -> str:
    """OpenSSH-style SHA256 fingerprint, as admins see it in ``ssh-keygen -lf``."""
    digest = hashlib.sha256(base64.b64decode(key_b64)).digest()
    return f"{key_type} SHA256:{base64.b64encode(digest).decode().rstrip('=')}"


def _split_marker(line: str) -> tuple[str | None, str]:
    """('@revoked', rest) for a marker line, (None, line) otherwise."""
    stripped = line.strip()
    if stripped.startswith("@"):
        marker, _, rest = stripped.partition(" ")
        return marker, rest.strip()
    return None, stripped


def _key_of(line: str) -> HostKey:
    fields = line.split()
    for index, field in enumerate(fields):
        if (field in _KEY_TYPES_FOR or field.startswith(("ssh-", "ecdsa-"))) and index + 1 < len(fields):
            return field, fields[index + 1]
    raise HostKeyError(f"cannot read a host key from {line!r}",
                       fix="give the key as 'ssh-ed25519 AAAA...' (a line of ssh-keyscan output)")


def parse_host_key_line(line: str) -> HostKey:
    """Return (type, base64) from 'type base64 [comment]' or a known_hosts line.

    A marker line (``@revoked``, ``@cert-authority``) is not a key to trust: refused.
    """
    marker, rest = _split_marker(line)
    if marker is not None:
        raise HostKeyError(f"{line.strip()[:60]!r} is a {marker} line, not a host key to trust",
                           fix="give the key as 'ssh-ed25519 AAAA...' (a line of ssh-keyscan output)")
    return _key_of(rest)


def _glob(pattern: str, name: str) -> bool:
    """known_hosts patterns: ``*`` and ``?`` are wildcards, everything else is literal."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, name, re.IGNORECASE) is not None


def _hosts_match(field: str, names: set[str]) -> bool:
    """Whether a known_hosts host field (patterns, negations or a hashed name) names us."""
    if field.startswith("|1|"):
        try:
            salt, digest = (base64.b64decode(part) for part in field[3:].split("|", 1))
        except ValueError:
            return False
        return any(hmac.compare_digest(hmac.new(salt, name.encode(), hashlib.sha1).digest(), digest)
                   for name in names)
    matched = False
    for pattern in field.split(","):
        negated = pattern.startswith("!")
        if any(_glob(pattern.lstrip("!"), name) for name in names):
            if negated:
                return False
            matched = True
    return matched


def _known_hosts_entries(path: str, host: str, port: int, *, site: str | None = None
                         ) -> tuple[list[HostKey], set[HostKey]]:
    """(keys listed for this host and port, keys marked @revoked) in a known_hosts file.

    A revoked key is refused whatever host pattern its line has: it is the key that is
    compromised, not one host. ``@cert-authority`` lines are ignored (certificates are
    not supported, so they never make a key trusted).
    """
    names = {host if port == 22 else f"[{host}]:{port}"}
    found: list[HostKey] = []
    revoked: set[HostKey] = set()
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise HostKeyError(f"known_hosts file {path} cannot be read: {exc}", site=site,
                           fix="point known_hosts_path at a readable file") from exc
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        marker, rest = _split_marker(line)
        if marker == REVOKED:
            revoked.add(_key_of(rest.partition(" ")[2]))
        elif marker is None:
            hosts, _, key = rest.partition(" ")
            if _hosts_match(hosts, names):
                found.append(_key_of(key))
    return found, revoked


def load_private_key(text: str, *, site: str) -> paramiko.PKey:
    """Parse an OpenSSH/PEM private key of any type paramiko supports."""
    key_classes: list[type[paramiko.PKey]] = [
        paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey,
    ]
    for key_class in key_classes:
        try:
            return key_class.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError, TypeError):
            continue
    raise AuthenticationError(
        "the service account's private key cannot be read (not an unencrypted "
        "ed25519, ECDSA or RSA key)", site=site,
        fix="paste the whole private key, including its BEGIN/END lines, into the centre block",
    )


class SSHTransport(Transport):
    """One paramiko connection per site, shared by every job and poll."""

    def __init__(self, config: SSHConfig) -> None:
        self.config = config
        self.site = config.site
        self._pkey = load_private_key(config.private_key.get_secret_value(), site=config.site)
        self._pinned, self._revoked = self._pinned_keys()
        self._lock = threading.Lock()
        self._channels = threading.BoundedSemaphore(config.max_channels)
        self._transport: paramiko.Transport | None = None
        self._commands_sent = 0
        self.connections_made = 0

    # -- connection -------------------------------------------------------------------------

    def _pinned_keys(self) -> tuple[list[HostKey], set[HostKey]]:
        pinned: list[HostKey] = []
        revoked: set[HostKey] = set()
        for line in self.config.host_keys:
            if not line.strip():
                continue
            marker, rest = _split_marker(line)
            if marker == REVOKED:
                revoked.add(_key_of(rest))
            elif marker is not None:
                raise HostKeyError(
                    f"host key line {line.strip()[:60]!r}: {marker} is not supported",
                    site=self.site, fix="pin the login node's own host key (a line of "
                                        f"`ssh-keyscan -p {self.config.port} {self.config.host}`)")
            else:
                pinned.append(_key_of(rest))
        if self.config.known_hosts_path:
            listed, listed_revoked = _known_hosts_entries(
                self.config.known_hosts_path, self.config.host, self.config.port, site=self.site)
            pinned += listed
            revoked |= listed_revoked
        if not pinned:
            raise HostKeyError(
                f"no host key is pinned for {self.config.host}:{self.config.port}", site=self.site,
                fix=(f"run `ssh-keyscan -p {self.config.port} {self.config.host}`, check the "
                     "fingerprint with the centre's admins, and put the line in the block's host_key"),
            )
        return pinned, revoked

    def host_key_algorithms(self) -> tuple[str, ...]:
        """What the server may sign with: the pinned types first (a server holding several
        keys shows the pinned one), then every other type, so that a server without the
        pinned type still shows its key and the error can name it."""
        first = [algo for key_type, _ in self._pinned for algo in _KEY_TYPES_FOR.get(key_type, ())]
        every = [algo for algos in _KEY_TYPES_FOR.values() for algo in algos]
        return tuple(dict.fromkeys(first + every))

    def verify_host_key(self, key_type: str, key_b64: str) -> None:
        """Accept the server's key only if pinned and not revoked; else a HostKeyError that
        names the site, both keys and the fix."""
        cfg = self.config
        where = f"{cfg.host}:{cfg.port}"
        offered = (key_type, key_b64)
        shown = fingerprint(*offered)
        if offered in self._revoked:
            raise HostKeyError(
                f"host key of {where} is {shown}, which is marked {REVOKED}; refusing to connect",
                site=self.site,
                fix="the centre must replace this host key: confirm the new key's fingerprint with "
                    "its admins, pin it in the block and remove the revoked one",
            )
        if offered in self._pinned:
            return
        pinned = ", ".join(fingerprint(*key) for key in self._pinned)
        pinned_types = sorted({pinned_type for pinned_type, _ in self._pinned})
        if key_type in pinned_types:
            raise HostKeyError(
                f"host key of {where} is {shown}, which is not the pinned key ({pinned}); "
                "refusing to connect (the key changed or someone is in between)",
                site=self.site,
                fix="confirm the new key with the centre's admins, then update host_key in the block",
            )
        scan = _KEYSCAN_TYPE.get(key_type, key_type)
        raise HostKeyError(
            f"host key of {where} is {shown}, which is not the pinned key ({pinned}): the server "
            f"has no {' or '.join(pinned_types)} key; refusing to connect",
            site=self.site,
            fix=(f"if the centre's admins confirm {shown}, pin it: run `ssh-keyscan -t {scan} "
                 f"-p {cfg.port} {cfg.host}` and put the line in the block's host_key"),
        )

    def _connect_once(self) -> paramiko.Transport:
        cfg = self.config
        where = f"{cfg.host}:{cfg.port}"
        try:
            sock = socket.create_connection((cfg.host, cfg.port), timeout=cfg.connect_timeout)
        except (TimeoutError, OSError) as exc:
            raise UnreachableError(
                f"cannot connect to {where}: {exc}", site=self.site,
                fix="check the host name and port in the centre block and that the login node is up",
            ) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = paramiko.Transport(sock)
        transport.get_security_options().key_types = self.host_key_algorithms()
        try:
            transport.start_client(timeout=cfg.connect_timeout)
        except IncompatiblePeer as exc:
            transport.close()
            if "host key" not in str(exc):
                raise UnreachableError(f"SSH handshake with {where} failed: {exc}", site=self.site,
                                       fix="check that an SSH server listens on that port") from exc
            pinned = ", ".join(fingerprint(*key) for key in self._pinned)
            raise HostKeyError(
                f"{where} offers no host key of a type HEROES can check (ed25519, ECDSA, RSA "
                f"with SHA-2), so it cannot be matched to the pinned key ({pinned})",
                site=self.site,
                fix="ask the centre's admins to enable an ed25519 host key, then pin it",
            ) from exc
        except (paramiko.SSHException, EOFError, OSError) as exc:
            transport.close()
            raise UnreachableError(f"SSH handshake with {where} failed: {exc}", site=self.site,
                                   fix="check that an SSH server listens on that port") from exc
        server_key = transport.get_remote_server_key()
        try:
            self.verify_host_key(server_key.get_name(), server_key.get_base64())
        except HostKeyError:
            transport.close()
            raise
        try:
            transport.auth_publickey(cfg.user, self._pkey)
        except paramiko.AuthenticationException as exc:
            transport.close()
            raise AuthenticationError(
                f"{where} refused the key of service account '{cfg.user}': {exc}", site=self.site,
                fix=f"add the block's public key to ~{cfg.user}/.ssh/authorized_keys on the centre",
            ) from exc
        except (paramiko.SSHException, EOFError, OSError) as exc:
            transport.close()
            raise UnreachableError(f"authentication with {where} broke off: {exc}",
                                   site=self.site, fix="retry; check the login node") from exc
        transport.set_keepalive(30)
        self.connections_made += 1
        return transport

    def _connected(self, *, force_new: bool = False) -> paramiko.Transport:
        """Return the live connection, reconnecting with exponential back-off if it dropped."""
        with self._lock:
            if self._transport is not None and self._transport.is_active() and not force_new:
                return self._transport
            if self._transport is not None:
                self._transport.close()
                self._transport = None
            delay = self.config.backoff_initial
            for attempt in range(1, self.config.reconnect_attempts + 1):
                try:
                    self._transport = self._connect_once()
                    return self._transport
                except UnreachableError:
                    if attempt == self.config.reconnect_attempts:
                        raise
                    logger.warning("%s: connection attempt %d failed; retrying in %.1f s",
                                   self.site, attempt, delay)
                    time.sleep(delay)
                    delay = min(delay * 2, self.config.backoff_max)
            raise AssertionError("unreachable")  # pragma: no cover

    def connect(self) -> None:
        """Open the connection now, so configuration errors surface before any work."""
        self._connected()

    def drop_connection(self) -> None:
        """Close the socket under the transport, as a link failure would (used by tests)."""
        with self._lock:
            if self._transport is not None:
                self._transport.sock.close()

    def close(self) -> None:
        with self._lock:
            if self._transport is not None:
                self._transport.close()
                self._transport = None

    # -- commands ---------------------------------------------------------------------------

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        timeout: float | None = None,
        idempotent: bool = True,
    ) -> CommandResult:
        command = shell_join(argv)
        limit = timeout or self.config.command_timeout
        with self._channels:
            for attempt in range(1, self.config.reconnect_attempts + 1):
                transport = self._connected(force_new=attempt > 1)
                try:
                    channel = transport.open_session(timeout=self.config.connect_timeout)
                except (paramiko.SSHException, EOFError, OSError) as exc:
                    # Nothing was sent: always safe to try again on a new connection.
                    logger.warning("%s: cannot open a channel (%s); reconnecting", self.site, exc)
                    continue
                try:
                    return self._exchange(channel, argv, command, stdin, limit)
                except ConnectionLostError:
                    if not idempotent or attempt == self.config.reconnect_attempts:
                        raise
                    logger.warning("%s: link dropped during `%s`; reconnecting and retrying",
                                   self.site, argv[0])
                finally:
                    channel.close()
        raise ConnectionLostError(
            f"could not run `{argv[0]}` after {self.config.reconnect_attempts} attempts",
            site=self.site, fix="check the network link to the centre",
        )

    def _exchange(
        self,
        channel: paramiko.Channel,
        argv: Sequence[str],
        command: str,
        stdin: bytes | None,
        limit: float,
    ) -> CommandResult:
        deadline = time.monotonic() + limit
        try:
            channel.exec_command(command)
            self._commands_sent += 1
            if stdin:
                channel.sendall(stdin)
                channel.shutdown_write()
            stdout = self._drain(channel, channel.recv, deadline, argv)
            stderr = self._drain(channel, channel.recv_stderr, deadline, argv)
            while not channel.status_event.wait(0.2):
                if not self._link_alive(channel):
                    raise ConnectionLostError(f"link dropped while `{argv[0]}` ran", site=self.site)
                if time.monotonic() > deadline:
                    raise self._timeout(argv)
            exit_code = channel.recv_exit_status()
            if exit_code == -1 and not self._link_alive(channel):
                # paramiko reports -1 when the channel closed without an exit status.
                raise ConnectionLostError(f"link dropped while `{argv[0]}` ran", site=self.site)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            if isinstance(exc, TimeoutError):
                raise self._timeout(argv) from exc
            raise ConnectionLostError(f"link dropped while `{argv[0]}` ran: {exc}",
                                      site=self.site) from exc
        return CommandResult(argv=tuple(str(a) for a in argv), exit_code=exit_code,
                             stdout=stdout.decode(errors="replace"),
                             stderr=stderr.decode(errors="replace"))

    @staticmethod
    def _link_alive(channel: paramiko.Channel) -> bool:
        transport = channel.get_transport()
        return transport is not None and transport.is_active()

    def _drain(self, channel: paramiko.Channel, reader: Callable[[int], bytes],
               deadline: float, argv: Sequence[str]) -> bytes:
        chunks: list[bytes] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timeout(argv)
            channel.settimeout(remaining)
            try:
                chunk = reader(_READ_CHUNK)
            except TimeoutError as exc:
                raise self._timeout(argv) from exc
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def _timeout(self, argv: Sequence[str]) -> CommandTimeoutError:
        return CommandTimeoutError(f"`{argv[0]}` did not answer in time", site=self.site,
                                   fix="check the login node's load or raise command_timeout")


_shared: dict[SSHConfig, SSHTransport] = {}
_shared_lock = threading.Lock()


def shared_ssh_transport(config: SSHConfig) -> SSHTransport:
    """The process-wide transport for this configuration: one connection per site."""
    with _shared_lock:
        transport = _shared.get(config)
        if transport is None:
            transport = _shared[config] = SSHTransport(config)
        return transport
