"""Charliecloud: fully unprivileged, runs image directories unpacked from tarballs.

The image on the centre is a gzip tarball named by its sha256 digest. It is
unpacked once per digest into the service account's image cache, atomically,
so concurrent jobs never see a half-unpacked image. Charliecloud does not create
a network namespace, so jobs keep the node's network (``isolates_network``).

Every job gets a private /tmp (``-t``) and an environment cleared of everything
the service account (and Slurm) had (``--unset-env=*``), then holding only a
default PATH and the job spec's variables. ``--set-env=NAME=VALUE`` keeps the value
as given except that ch-run strips one pair of single quotes from a value that
starts and ends with one, and expands ``$`` in search-path-like values unless
``--env-no-expand`` comes first: such values get one extra pair of quotes, and
expansion is turned off, so every value arrives exactly.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

from heroes_core.containers._base import DEFAULT_PATH, JOB_MOUNT, ContainerRuntime
from heroes_core.models import ImageRef


def set_env_arg(name: str, value: str) -> str:
    """``--set-env`` for one variable, such that ch-run sets exactly ``value``."""
    if len(value) >= 2 and value[0] == value[-1] == "'":
        value = f"'{value}'"  # ch-run removes exactly this outer pair
    return f"--set-env={name}={value}"


class CharliecloudRuntime(ContainerRuntime):
    """``ch-run`` of an unpacked image directory, bind-mounting only the job directory."""

    name = "charliecloud"
    isolates_network = False

    def image_dir(self, image: ImageRef, cache_dir: str) -> str:
        return f"{cache_dir}/{image.hex_digest}"

    def prepare_lines(self, image: ImageRef, cache_dir: str, *, job_dir: str,
                      env: Mapping[str, str]) -> list[str]:
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
        variables = {"PATH": DEFAULT_PATH, **env}
        # Order matters: ch-run applies --unset-env and --set-env in command-line order.
        argv = ["ch-run", "-t", "--unset-env=*", "--env-no-expand",
                set_env_arg("PATH", variables.pop("PATH")),
                *(set_env_arg(name, value) for name, value in sorted(variables.items())),
                "-b", f"{job_dir}:{JOB_MOUNT}", "-c", JOB_MOUNT,
                self.image_dir(image, cache_dir), "--"]
        return [*argv, *command]
