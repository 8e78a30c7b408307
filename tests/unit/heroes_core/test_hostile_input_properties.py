"""Hostile input, generated: every job spec, key and name either is refused with a clear
error before anything is submitted, or becomes a batch script that bash accepts and that
runs exactly the argv and environment given."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from heroes_core import jobs
from heroes_core.containers import ContainerRuntime
from heroes_core.errors import SpecError
from heroes_core.models import ImageRef, JobSpec, UserArea
from heroes_core.schedulers import KEY_PATTERN
from heroes_core.sites import SiteConfig, open_site

# What the "container" runs: print the argv and the environment it was given.
_DUMP = "import json, os, sys; print(json.dumps([sys.argv[1:], dict(os.environ)]))"

_pieces = st.text(st.characters(codec="utf-8"), max_size=6) | st.sampled_from(
    ["'", '"', "$(id)", "`id`", "\\", "\n", "\r", "\x00", ";", "&", "|", "*", "~", "-", "%s", "\ud800",
     "..", "/", ",", "=", " "])
any_text = st.lists(_pieces, max_size=8).map("".join)


class DumpingRuntime(ContainerRuntime):
    """A runtime whose 'container' reports what it received, with the spec's env set."""

    name = "dump"
    isolates_network = False

    def exec_argv(self, image: ImageRef, command: Sequence[str], job_dir: str,
                  env: Mapping[str, str], cache_dir: str) -> list[str]:
        return ["env", "-i", *(f"{k}={v}" for k, v in sorted(env.items())), sys.executable,
                "-c", _DUMP, *command]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ImageRef]:
    root = tmp_path_factory.mktemp("job")
    image = root / "image.tar.gz"
    image.write_bytes(b"an image")
    return root, ImageRef(path=str(image), digest="sha256:" + hashlib.sha256(b"an image").hexdigest())


def _site():  # type: ignore[no-untyped-def]
    built = open_site(SiteConfig(name="hpc1", host="h", user="svc", work_root="/w",
                                 transport="local", container_runtime="charliecloud"))
    built.runtime = DumpingRuntime()
    return built


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.lists(any_text, min_size=1, max_size=5),
       env=st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), any_text,
                           max_size=3))
def test_a_spec_is_refused_clearly_or_runs_exactly_the_argv_and_env_given(
        workdir: tuple[Path, ImageRef], command: list[str], env: dict[str, str]) -> None:
    root, image = workdir
    try:
        spec = JobSpec(image=image, command=command, env=env)
    except ValidationError as exc:
        assert re.search(r"NUL or carriage-return|lone surrogate", str(exc)), str(exc)
        return
    script = jobs.render_script(_site(), spec, str(root))
    assert subprocess.run(["bash", "-n"], input=script.encode(), check=False).returncode == 0
    ran = subprocess.run(["bash"], input=script.encode(), capture_output=True, check=False)
    assert ran.returncode == 0, ran.stderr
    argv, seen_env = json.loads(ran.stdout)
    assert argv == command
    assert {k: seen_env.get(k) for k in env} == env


@settings(max_examples=300, deadline=None)
@given(key=any_text | st.from_regex(KEY_PATTERN, fullmatch=True))
def test_a_caller_key_is_refused_unless_it_is_a_well_formed_key_of_its_owner(key: str) -> None:
    owner = UserArea(organisation="acme", user="ada")
    try:
        accepted = jobs.require_job_key(key, owner)
    except SpecError as exc:
        assert re.search(r"is malformed|does not belong to acme/ada", str(exc))
        return
    assert re.fullmatch(KEY_PATTERN, accepted) and "," not in accepted and "/" not in accepted
    assert accepted.startswith(jobs.job_key("x", owner=owner)[:16])


@settings(max_examples=300, deadline=None)
@given(organisation=any_text | st.from_regex(r"[a-z0-9][a-z0-9-]{1,38}[a-z0-9]", fullmatch=True),
       user=any_text | st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True))
def test_names_are_refused_or_give_a_job_directory_inside_their_own_area(organisation: str,
                                                                          user: str) -> None:
    try:
        area = UserArea(organisation=organisation, user=user)
    except ValidationError:
        return
    key = jobs.job_key("run", owner=area)
    job_dir = jobs.job_directory(_site(), area, key)
    assert job_dir == f"/w/{organisation}/{user}/{key}"
    assert ".." not in job_dir.split("/") and "\n" not in job_dir
