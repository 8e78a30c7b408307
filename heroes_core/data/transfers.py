"""One transfer between any two endpoints: check, copy what differs, verify, retry, record.

:func:`transfer` works in three steps, each attempt:

1. *check*: list both ends with each file's size and MD5 (:mod:`._inventory`) and find the
   source files missing or different at the destination; files already there with the same
   checksum do not move (re-staging unchanged data copies 0 bytes);
2. *copy* exactly those with ``rclone copy`` (whose stats, read while it runs, feed the
   progress callback: bytes, rate, ETA);
3. *verify*: checksum the copied files at the destination again and compare them with the
   source's; a transfer that cannot be verified is an error, never a silent success.

This is ``rclone copy --checksum`` followed by ``rclone check --one-way``, with the checksums
gathered in one command per end instead of one SSH session per file (rclone's way on SFTP),
which made the check cost more than the copy for many small files. A link that drops or times out
is tried again after a growing pause (each attempt moves only what is still missing); a refused
key, a missing file or a denied permission fails at once. Every transfer, however it ends, writes
one row to a :class:`TransferLog`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from heroes_core.data._inventory import Entry, differences, inventory, shell_for
from heroes_core.data._locations import Location, SFTPLocation
from heroes_core.data._rclone import Rclone, RcloneError, Stats, check_shared_connection
from heroes_core.data.transfer_log import TransferLog, TransferOutcome
from heroes_core.errors import SpecError, TransferError
from heroes_core.models import safe_relative_path
from heroes_core.transport import Transport

# rclone's --bwlimit: a rate ("10M", "512k", "off") or an upload:download pair ("10M:100M").
_RATE = r"(off|\d+(\.\d+)?[BKMGTPbkmgtp]?)"
BANDWIDTH_LIMIT_PATTERN = rf"^{_RATE}(:{_RATE})?$"


class MissingSourceError(TransferError, SpecError):
    """Files asked for are not at the source: reported all at once, before any byte moves."""


class TransferLimitError(TransferError):
    """The source holds more than the transfer may move: nothing was copied."""


class TransferReport(BaseModel):
    """What one verified transfer moved (files_transferred < files_checked when some matched)."""

    source: str
    destination: str
    files_checked: int
    files_transferred: int
    bytes_transferred: int
    attempts: int = 1
    duration_s: float = 0.0


class Requester(BaseModel):
    """Who a transfer is for, and as part of what (a job, a flow run)."""

    model_config = ConfigDict(frozen=True)

    organisation: str = Field(min_length=1, max_length=64)
    user: str = Field(min_length=1, max_length=64)
    project: str | None = Field(default=None, max_length=64)
    job_key: str | None = Field(default=None, max_length=100)
    flow_run_id: str | None = Field(default=None, max_length=64)


class TransferOptions(BaseModel):
    """How to move the data: rclone's parallelism, a bandwidth cap, retries and their pauses.

    The defaults suit many small files: per-file round trips (an S3 GET, an SFTP open, write,
    close and set-time), not bandwidth, bound such a copy, so more files move at once than
    rclone's defaults (4 transfers, 8 checkers) allow; ``benchmarks/transfer.py`` measures it.
    To a centre behind a shared OpenSSH master, :class:`Rclone` lowers both to what the master's
    sessions allow.
    """

    model_config = ConfigDict(frozen=True)

    bandwidth_limit: str | None = Field(
        default=None, pattern=BANDWIDTH_LIMIT_PATTERN,
        description="rclone --bwlimit in bytes/s, e.g. '10M' (10 MiB/s) or '10M:100M' (up:down).")
    transfers: int = Field(default=32, ge=1, le=256, description="Files copied at once.")
    checkers: int = Field(default=32, ge=1, le=256, description="Files looked up at once.")
    sftp_concurrency: int | None = Field(
        default=None, ge=1, le=256,
        description="Outstanding SFTP requests per file (rclone's default if unset).")
    fast_list: bool = Field(default=True, description="List S3 prefixes in one recursive listing.")
    attempts: int = Field(default=4, ge=1, le=10, description="Tries in all, for transient failures.")
    backoff_s: float = Field(default=2.0, ge=0, description="Pause before the second try; doubles after.")
    max_backoff_s: float = Field(default=60.0, ge=0)
    stats_interval_s: float = Field(default=1.0, gt=0, description="How often progress is reported.")
    timeout_s: float = Field(default=6 * 3600.0, gt=0, description="Limit on each rclone command.")

    def delay(self, attempt: int) -> float:
        """The pause after failed attempt ``attempt`` (1-based): exponential, capped."""
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))

    def list_flags(self) -> list[str]:
        return ["--checkers", str(self.checkers), *(["--fast-list"] if self.fast_list else [])]

    def copy_flags(self) -> list[str]:
        """The check is done: copy without looking at the destination again (--no-check-dest)
        nor hashing each file after it arrives (--ignore-checksum: verification does it for all
        at once). Retrying is :func:`transfer`'s, with pauses (--retries 1)."""
        flags = ["--no-check-dest", "--ignore-checksum", "--retries", "1",
                 "--transfers", str(self.transfers), *self.list_flags(), "--use-json-log",
                 "--stats", f"{self.stats_interval_s:g}s", "--stats-log-level", "NOTICE"]
        if self.bandwidth_limit:
            flags += ["--bwlimit", self.bandwidth_limit]
        if self.sftp_concurrency:
            flags += ["--sftp-concurrency", str(self.sftp_concurrency)]
        return flags


class TransferRequest(BaseModel):
    """Who moves what from where to where, how.

    ``files``: names relative to the source (None: everything below it); ``exclude``: rclone
    filter patterns left out; ``limit_bytes``: refuse, before copying, a source holding more.
    """

    model_config = ConfigDict(frozen=True)

    requester: Requester
    source: Location
    destination: Location
    files: list[str] | None = None
    exclude: list[str] = Field(default_factory=list)
    limit_bytes: int | None = Field(default=None, ge=0)
    options: TransferOptions = Field(default_factory=TransferOptions)

    @field_validator("files")
    @classmethod
    def _inside_the_source(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(safe_relative_path(n) for n in value))

    @field_validator("exclude")
    @classmethod
    def _one_line_each(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if not pattern or "\n" in pattern or "\x00" in pattern:
                raise ValueError(f"exclude pattern {pattern!r} is empty or has control characters")
        return value

    def summary(self) -> str:
        """What moves, in a few words: the file count and first names, or the whole directory."""
        if self.files is not None:
            shown = ", ".join(self.files[:3]) + (", ..." if len(self.files) > 3 else "")
            text = f"{len(self.files)} file(s): {shown}"
        else:
            text = "whole directory"
        if self.exclude:
            text += " excluding " + ", ".join(self.exclude[:3]) + (", ..." if len(self.exclude) > 3 else "")
        return text

    def rclone_filters(self, files: list[str] | None = None) -> tuple[list[str], str | None]:
        """rclone's flags (and stdin) selecting ``files`` (default: the request's) minus the
        exclusions."""
        files = self.files if files is None else files
        flags: list[str] = []
        stdin = None
        if files is not None:
            flags += ["--files-from-raw", "-"]
            stdin = "".join(f"{name}\n" for name in files)
        for pattern in self.exclude:
            flags += ["--exclude", pattern]
        return flags, stdin


class TransferProgress(BaseModel):
    """How a running transfer is doing: ``check`` (comparing the ends), ``copy`` (bytes move),
    ``verify`` or ``retry`` (an attempt failed, ``note`` says why; the next starts in ``eta_s``)."""

    model_config = ConfigDict(frozen=True)

    phase: Literal["check", "copy", "verify", "retry"]
    attempt: int
    bytes: int = 0
    total_bytes: int = 0
    files: int = 0
    total_files: int = 0
    rate: float = 0.0  # bytes per second
    eta_s: float | None = None
    elapsed_s: float = 0.0
    note: str | None = None

    @property
    def fraction(self) -> float:
        """How far the copy is, 0 to 1 (by bytes, else by files)."""
        if self.total_bytes > 0:
            return min(1.0, self.bytes / self.total_bytes)
        if self.total_files > 0:
            return min(1.0, self.files / self.total_files)
        return 1.0 if self.phase == "verify" else 0.0


ProgressCallback = Callable[[TransferProgress], None]


class _Tally:
    """What a transfer moved so far, over all its attempts."""

    def __init__(self) -> None:
        self.attempts = 0
        self.bytes = 0
        self.files = 0
        self.files_checked = 0
        self.current: Stats | None = None  # the running attempt's copy

    def close_attempt(self) -> None:
        if self.current is not None:
            self.bytes += self.current.bytes
            self.files += self.current.transfers
            self.current = None


def transfer(request: TransferRequest, *, log: TransferLog | None = None,
             on_progress: ProgressCallback | None = None, rclone: Rclone | None = None,
             shells: Mapping[str, Transport] | None = None,
             sleep: Callable[[float], None] = time.sleep) -> TransferReport:
    """Move ``request``'s data, verify it, record it in ``log``; raise :class:`TransferError`.

    ``shells``: how to run commands on a site (by name), for its checksums; an SFTP endpoint
    with SSH settings brings its own. The error of a failed transfer is raised as it is, even
    when recording it fails too (that failure is added to it as a note).
    """
    started_at, started = datetime.now(UTC), time.monotonic()
    tally = _Tally()
    try:
        report = _Transfer(request, rclone or Rclone(), shells or {}, tally, on_progress,
                           started).run(sleep)
    except BaseException as exc:
        if log is not None:
            try:
                _record(log, request, tally, started_at, TransferOutcome.FAILED,
                        error=str(exc) or type(exc).__name__)
            except Exception as failure:
                exc.add_note(f"This failed transfer could not be recorded either: {failure}")
        raise
    if log is not None:
        _record(log, request, tally, started_at, TransferOutcome.SUCCEEDED)
    return report


def _record(log: TransferLog, request: TransferRequest, tally: _Tally, started_at: datetime,
            outcome: TransferOutcome, error: str | None = None) -> None:
    who = request.requester
    log.record(organisation=who.organisation, project=who.project, user=who.user,
               job_key=who.job_key, flow_run_id=who.flow_run_id, what=request.summary(),
               source_site=request.source.site, source=request.source.label,
               destination_site=request.destination.site, destination=request.destination.label,
               bytes=tally.bytes, files=tally.files, files_checked=tally.files_checked,
               attempts=max(tally.attempts, 1), started_at=started_at,
               finished_at=datetime.now(UTC), outcome=outcome, error=error)


class _Transfer:
    """One transfer's attempts."""

    def __init__(self, request: TransferRequest, rclone: Rclone, shells: Mapping[str, Transport],
                 tally: _Tally, on_progress: ProgressCallback | None, started: float) -> None:
        self.request, self.rclone, self.tally = request, rclone, tally
        self.on_progress, self.started = on_progress, started
        self.options = request.options
        self.src_shell = shell_for(request.source, shells)
        self.dst_shell = shell_for(request.destination, shells)

    def run(self, sleep: Callable[[float], None]) -> TransferReport:
        request, tally = self.request, self.tally
        where = f"from {request.source.label} to {request.destination.label}"
        while True:
            tally.attempts += 1
            try:
                self.attempt()
            except RcloneError as exc:
                tally.close_attempt()
                if not exc.transient:
                    raise RcloneError(f"transfer {where} failed: {exc.detail}", site=exc.site,
                                      fix=exc.fix, exit_code=exc.exit_code) from exc
                if tally.attempts >= self.options.attempts:
                    raise RcloneError(
                        f"transfer {where} failed {tally.attempts} times: {exc.detail}",
                        site=exc.site, transient=True, exit_code=exc.exit_code,
                        fix="the link kept failing; try again later (what was copied stays and "
                            "will not move again)") from exc
                pause = self.options.delay(tally.attempts)
                self.progress("retry", eta_s=pause, note=exc.detail)
                sleep(pause)
                continue
            return TransferReport(
                source=request.source.label, destination=request.destination.label,
                files_checked=tally.files_checked, files_transferred=tally.files,
                bytes_transferred=tally.bytes, attempts=tally.attempts,
                duration_s=round(time.monotonic() - self.started, 3))

    def attempt(self) -> None:
        """Check, copy what differs, verify what was copied; first of all, an end behind a
        shared OpenSSH master must have it open (without, nothing is listed nor copied)."""
        request, rclone, timeout = self.request, self.rclone, self.options.timeout_s
        for end in (request.source, request.destination):
            if isinstance(end, SFTPLocation):
                check_shared_connection(end.server)
        filters, stdin = request.rclone_filters()
        flags = [*self.options.list_flags(), *filters]
        source = inventory(request.source, rclone, filters=flags, stdin=stdin,
                           shell=self.src_shell, timeout=timeout)
        if request.files is not None:
            missing = [name for name in request.files if name not in source]
            if missing:
                shown = ", ".join(missing[:20]) + (", ..." if len(missing) > 20 else "")
                raise MissingSourceError(
                    f"{len(missing)} file(s) {shown} not found {request.source.where}",
                    site=request.source.site, fix="put them there first, or correct the names")
        if request.limit_bytes is not None:
            self.refuse_above_limit(source, request.limit_bytes)
        sizes = any(entry.md5 is None for entry in source.values())  # else checksums suffice
        there = inventory(request.destination, rclone, filters=flags, stdin=stdin,
                          names=source.keys(), sizes=sizes, shell=self.dst_shell, timeout=timeout)
        todo = differences(source, there)
        self.tally.files_checked = len(source)
        self.progress("check", files=len(source) - len(todo), total_files=len(source))
        if not todo:
            return
        everything = request.files is None and len(todo) == len(source)
        self.copy(todo, everything=everything)
        copied = {name: source[name] for name in todo}
        if not everything:  # look the copied files up by name; else list them all at once
            filters, stdin = request.rclone_filters(todo)
        after = inventory(request.destination, rclone, filters=[*self.options.list_flags(), *filters],
                          stdin=stdin, names=copied.keys(), sizes=sizes, shell=self.dst_shell,
                          timeout=timeout)
        wrong = differences(copied, after)
        self.progress("verify", files=len(todo) - len(wrong), total_files=len(todo))
        if wrong:
            raise RcloneError(
                f"{len(wrong)} of {len(todo)} copied file(s) differ at {request.destination.label} "
                f"from the source: {', '.join(wrong[:10])}" + (", ..." if len(wrong) > 10 else ""),
                site=request.destination.site, transient=True)

    def copy(self, names: list[str], *, everything: bool) -> None:
        """``rclone copy`` of ``names`` (of the whole filtered source when ``everything``: no
        per-file lookups then)."""
        request, rclone = self.request, self.rclone
        filters, stdin = request.rclone_filters(None if everything else names)
        src, dst = request.source.rclone_path(rclone), request.destination.rclone_path(rclone)

        def seen(stats: Stats) -> None:
            self.tally.current = stats
            self.progress("copy", bytes=stats.bytes, total_bytes=stats.total_bytes,
                          files=stats.transfers, total_files=stats.total_transfers,
                          rate=stats.speed, eta_s=stats.eta)

        done = rclone.run(["copy", src, dst, *self.options.copy_flags(), *filters], stdin=stdin,
                          on_stats=seen, timeout=self.options.timeout_s)
        self.tally.current = done.stats or self.tally.current
        self.tally.close_attempt()

    def refuse_above_limit(self, source: Mapping[str, Entry], limit: int) -> None:
        size = sum(max(entry.size or 0, 0) for entry in source.values())
        if size <= limit:
            return
        request = self.request
        key = request.requester.job_key
        subject = f"job {key}: the data at {request.source.label}" if key else request.source.label
        raise TransferLimitError(
            f"{subject} holds {human_bytes(size)} ({size} bytes in {len(source)} file(s)), above "
            f"the limit of {human_bytes(limit)} ({limit} bytes); nothing was copied",
            site=request.source.site,
            fix="delete or compress what is not needed there, or ask for a higher limit")

    def progress(self, phase: Literal["check", "copy", "verify", "retry"], **fields: object) -> None:
        if self.on_progress is not None:
            self.on_progress(TransferProgress.model_validate(
                {"phase": phase, "attempt": self.tally.attempts,
                 "elapsed_s": time.monotonic() - self.started, **fields}))


def human_bytes(count: float) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


__all__ = ["BANDWIDTH_LIMIT_PATTERN", "MissingSourceError", "ProgressCallback", "Requester",
           "TransferLimitError", "TransferOptions", "TransferProgress", "TransferReport",
           "TransferRequest", "human_bytes", "transfer"]
