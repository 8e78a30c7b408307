"""Charliecloud: fully unprivileged, runs image directories unpacked from tarballs.

The image on the centre is a gzip tarball named by its sha256 digest. It is
unpacked once per digest into the service account's image cache, atomically,
so concurrent jobs never see a half-unpacked image. Charliecloud does not create
a network namespace, so jobs keep the node's network (``isolates_network``).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

from heroes_core.containers._base import JOB_MOUNT, ContainerRuntime
from heroes_core.models import ImageRef


class CharliecloudRuntime(ContainerRuntime):
    """``ch-run`` of an unpacked image directory, bind-mounting only the job directory."""

    name = "charliecloud"
    isolates_network = False

    def image_dir(self, image: ImageRef, cache_dir: str) -> str:
        return f"{cache_dir}/{image.hex_digest}"

    def prepare_lines(self, image: ImageRef, cache_dir: str) -> list[str]:
        target = shlex.quote(self.image_dir(image, cache_dir))
        cache = shlex.quote(cache_dir)
        tarball = shlex.quote(image.path)
        return [
            f"if [ ! -d {target} ]; then",
            f"  mkdir -p {cache}",
            f"  unpack=$(mktemp -d {cache}/.unpack.XXXXXX)",
            f'  tar -xzf {tarball} -C "$unpack"',
            f'  mv -T "$unpack" {target} 2>/dev/null || rm -rf "$unpack"',
            "fi",
        ]

    def exec_argv(self, image: ImageRef, command: Sequence[str], job_dir: str,
                  env: Mapping[str, str], cache_dir: str) -> list[str]:
        argv = ["ch-run", "-b", f"{job_dir}:{JOB_MOUNT}", "-c", JOB_MOUNT,
                self.image_dir(image, cache_dir), "--"]
        if env:
            argv += ["env", *(f"{key}={value}" for key, value in sorted(env.items()))]
        return [*argv, *command]
