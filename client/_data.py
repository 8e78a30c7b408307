"""Files in and out of the archive, through presigned URLs the gateway hands out.

An upload is remembered (its id, in ``~/.cache/heroes/uploads``) until it completes, so
running the same ``put`` again after a cut sends only the parts the archive lacks. Each
part's MD5 goes to the gateway, which completes the upload only if the archive received
exactly those bytes. A download is written beside its destination as ``.part``, resumed
from where it stopped with an HTTP range, and renamed into place only once its sha256 (or
MD5) matches what the archive recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import httpx

from heroes.client._errors import ApiError
from heroes_core.data.archive import ArchiveObject, Download, PartUrl, UploadTicket

if TYPE_CHECKING:
    from heroes.client._api import HeroesClient

# Called with (bytes done, bytes in all) as a transfer goes.
Progress = Callable[[int, int], None]
_CHUNK: Final = 1024 * 1024
_ATTEMPTS: Final = 4


def _state_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "heroes" / "uploads"


def file_digest(local: Path) -> str:
    sha = hashlib.sha256()
    with local.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def _read_part(local: Path, number: int, part_size: int) -> bytes:
    with local.open("rb") as handle:
        handle.seek((number - 1) * part_size)
        return handle.read(part_size)


class DataClient:
    """``heroes data`` as Python: areas, ls, put, get, mv, rm."""

    def __init__(self, client: HeroesClient, *, parallel: int = 4) -> None:
        self.client = client
        self.parallel = parallel

    def areas(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self.client.call("GET", "/v1/data/areas")
        return answer

    def ls(self, path: str = "home/") -> list[ArchiveObject]:
        return [ArchiveObject.model_validate(item)
                for item in self.client.call("GET", "/v1/data/files", params={"path": path})]

    def rm(self, path: str) -> list[str]:
        deleted: list[str] = self.client.call("DELETE", "/v1/data/files", params={"path": path})["deleted"]
        return deleted

    def mv(self, source: str, destination: str) -> list[ArchiveObject]:
        return [ArchiveObject.model_validate(item) for item in self.client.call(
            "POST", "/v1/data/move", json={"source": source, "destination": destination})]

    # -- put -----------------------------------------------------------------------------

    def put(self, local: str | Path, path: str, *, progress: Progress | None = None) -> ArchiveObject:
        """Upload ``local`` to ``path``; resumes an upload of the same file cut earlier."""
        source = Path(local)
        if not source.is_file():
            raise FileNotFoundError(f"{source} is not a file")
        size = source.stat().st_size
        sha256 = file_digest(source)
        upload_key = f"{self.client.url}|{path}|{size}|{sha256}"
        state = _state_dir() / hashlib.sha256(upload_key.encode()).hexdigest()
        ticket = self._resumed(state, path, size) or self._started(state, path, size, sha256)
        ticket, sent = send_parts(
            source, ticket, path, parallel=self.parallel, progress=progress,
            resume=lambda upload_id: self._post_ticket(f"/v1/data/uploads/{upload_id}/resume",
                                                       {"path": path, "size": size}))
        md5s = part_md5s(source, ticket, sent)
        stored = ArchiveObject.model_validate(self.client.call(
            "POST", f"/v1/data/uploads/{ticket.upload_id}/complete",
            json={"path": path, "size": size, "parts": md5s}))
        state.unlink(missing_ok=True)
        return stored

    def _started(self, state: Path, path: str, size: int, sha256: str) -> UploadTicket:
        ticket = self._post_ticket("/v1/data/uploads", {"path": path, "size": size, "sha256": sha256})
        state.parent.mkdir(parents=True, exist_ok=True)
        state.write_text(json.dumps({"upload_id": ticket.upload_id, "path": path}))
        return ticket

    def _resumed(self, state: Path, path: str, size: int) -> UploadTicket | None:
        """The ticket of an upload of this very file begun before, if the archive still has it."""
        try:
            upload_id = str(json.loads(state.read_text())["upload_id"])
        except (OSError, ValueError, KeyError):
            return None
        try:
            return self._post_ticket(f"/v1/data/uploads/{upload_id}/resume", {"path": path, "size": size})
        except ApiError as error:
            if error.status == 404:
                state.unlink(missing_ok=True)
                return None
            raise

    def _post_ticket(self, route: str, body: dict[str, Any]) -> UploadTicket:
        return UploadTicket.model_validate(self.client.call("POST", route, json=body))

    # -- get -----------------------------------------------------------------------------

    def get(self, path: str, local: str | Path, *, progress: Progress | None = None) -> Path:
        """Download ``path`` to ``local`` (a folder: keeps the name); resumes a cut download."""
        target = Path(local)
        if target.is_dir():
            target = target / path.rstrip("/").rsplit("/", 1)[-1]
        ticket = Download.model_validate(self.client.call("GET", "/v1/data/file", params={"path": path}))
        size = ticket.object.size
        unfinished = target.with_name(target.name + ".part")
        have = unfinished.stat().st_size if unfinished.exists() else 0
        if have > size:
            unfinished.unlink()
            have = 0
        if have < size:
            headers = {"Range": f"bytes={have}-"} if have else {}
            with httpx.stream("GET", ticket.url, headers=headers, timeout=300) as response:
                if response.status_code not in (200, 206):
                    raise OSError(f"the archive answered {response.status_code} for {path}")
                mode = "ab" if response.status_code == 206 else "wb"
                have = have if mode == "ab" else 0
                with unfinished.open(mode) as handle:
                    for chunk in response.iter_bytes(_CHUNK):
                        handle.write(chunk)
                        have += len(chunk)
                        if progress:
                            progress(have, size)
        else:
            unfinished.touch()
        self._verify(unfinished, ticket, path)
        unfinished.replace(target)
        return target

    @staticmethod
    def _verify(unfinished: Path, ticket: Download, path: str) -> None:
        """The bytes on disk are the archive's: sha256 recorded at upload, else the archive's MD5."""
        expected_sha, expected_md5 = ticket.object.sha256, ticket.md5
        if not expected_sha and not expected_md5:
            return
        sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        with unfinished.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                sha.update(chunk)
                md5.update(chunk)
        if (expected_sha and sha.hexdigest() != expected_sha) or \
                (not expected_sha and md5.hexdigest() != expected_md5):
            unfinished.unlink()
            raise OSError(f"{path}: what arrived does not match the archive's checksum; it was removed, "
                          "download it again")


def send_parts(source: Path, ticket: UploadTicket, path: str, *, parallel: int, progress: Progress | None,
               resume: Callable[[str], UploadTicket]) -> tuple[UploadTicket, dict[int, str]]:
    """PUT every part ``ticket`` (and its follow-ups from ``resume``) asks for; the last ticket,
    and the MD5 of each part sent (hashed from the bytes sent, so the file is not read again).

    Parts go ``parallel`` at a time; each is retried with back-off. A part the archive accepted
    but no longer lists means it lost it: stop rather than loop.
    """
    md5s: dict[int, str] = {}
    size = ticket.size
    done = max(0, size - ticket.missing_parts * ticket.part_size)
    if progress:
        progress(done, size)
    with httpx.Client(timeout=300) as http, ThreadPoolExecutor(parallel) as pool:
        while ticket.parts:
            sent_now = {part.number for part in ticket.parts}
            for number, sent, md5 in pool.map(partial(_send, http, source, ticket.part_size, path),
                                              ticket.parts):
                md5s[number] = md5
                done += sent
                if progress:
                    progress(min(done, size), size)
            ticket = resume(ticket.upload_id)
            if sent_now & {part.number for part in ticket.parts}:
                raise ApiError(0, f"the archive did not keep the parts of {path} it accepted; "
                                  "run the upload again")
    return ticket, md5s


def part_md5s(source: Path, ticket: UploadTicket, known: dict[int, str]) -> dict[int, str]:
    """The hex MD5 of each part of ``source``, as the archive must hold them: ``known`` ones (sent
    now) as they are, the rest (sent before a resume) hashed from the file."""
    return {n: known.get(n) or hashlib.md5(_read_part(source, n, ticket.part_size),
                                           usedforsecurity=False).hexdigest()
            for n in range(1, ticket.part_count + 1)}


def _send(http: httpx.Client, source: Path, part_size: int, path: str, part: PartUrl) -> tuple[int, int, str]:
    """PUT one part, again after a dropped connection or a 5xx, with back-off; (number, bytes, MD5)."""
    body = _read_part(source, part.number, part_size)
    md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
    for attempt in range(_ATTEMPTS):
        try:
            response = http.put(part.url, content=body)
            if response.status_code < 500:
                response.raise_for_status()
                return part.number, len(body), md5
        except httpx.TransportError:
            if attempt + 1 == _ATTEMPTS:
                raise
        time.sleep(0.5 * 2**attempt)
    raise ApiError(0, f"part {part.number} of {path} was refused {_ATTEMPTS} times by the archive")
