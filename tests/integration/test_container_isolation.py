"""Jobs are isolated from the node and from each other: real Slurm, real sshd, real Charliecloud.

In the test bed the login node is also the compute node, so the node's /tmp is checked over
the same SSH transport the jobs are submitted through.
"""

from __future__ import annotations

import shlex
import uuid

import pytest

from heroes_core import jobs
from heroes_core.containers import verify_image
from heroes_core.errors import ImageError
from heroes_core.models import ImageRef, JobSpec, JobState, UserArea

AREA = UserArea(organisation="itest", user="isolation")
# Values that break naive command lines: commas and quotes (Apptainer's --env), a value wrapped
# in single quotes (ch-run strips one pair), '=', '$', spaces, newlines and unicode.
TRICKY = {
    "COMMAS": "a,b,c=d",
    "QUOTES": "it's \"quoted\"",
    "WRAPPED": "'kept'",
    "EXPAND": "$HOME:$PATH",
    "SPACES": "  two  words ",
    "LINES": "one\ntwo\n",
    "UNICODE": "héllo wörld ✓",
    "EMPTY": "",
}


def run_job(site, image: dict[str, str], command: str, *, env: dict[str, str] | None = None,  # type: ignore[no-untyped-def]
            submit_env: dict[str, str] | None = None, before_container: str = "") -> str:
    """Submit one job through the production script, wait for it, return its job directory.

    ``submit_env`` is put in sbatch's environment (the service account's environment, which
    Slurm exports to the batch script); ``before_container`` runs in the batch script just
    before the container starts, outside it (to prove what the container was shielded from).
    """
    spec = JobSpec(image=ImageRef(**image), command=["sh", "-c", command], env=env or {},
                   time_limit_minutes=2)
    key = f"heroes-iso-{uuid.uuid4().hex[:12]}"
    job_dir = jobs.ensure_job_directory(site, AREA, key)
    submission = jobs.submission_for(site, spec, key, job_dir)
    lines = submission.script.split("\n")
    # the container's line (its argv may span lines), run under the output-limit guards
    start = next(i for i, line in enumerate(lines) if "exec ch-run " in line)
    script = "\n".join([*lines[:start], before_container, *lines[start:]])
    argv = site.scheduler.submit_argv(submission)
    assignments = [f"{name}={value}" for name, value in (submit_env or {}).items()]
    result = site.transport.run(["env", *assignments, *argv], stdin=script.encode(),
                                idempotent=False)
    assert result.ok, result.describe()
    job_id = site.scheduler.parse_submit(result.stdout)
    status = jobs.wait_for(site, job_id, interval=0.5, max_interval=2)
    log = site.transport.run(["cat", f"{job_dir}/slurm-{job_id}.out"]).stdout
    assert status.state is JobState.COMPLETED, f"{status}\n{log}"
    return job_dir


def read(site, path: str) -> str:  # type: ignore[no-untyped-def]
    return str(site.transport.check(["cat", "--", path]).stdout)


def test_a_jobs_tmp_is_private_and_gone_when_it_ends(site, image) -> None:  # type: ignore[no-untyped-def]
    marker = f"heroes-marker-{uuid.uuid4().hex[:12]}"
    on_node = f"/tmp/node-file-{uuid.uuid4().hex[:12]}"
    site.transport.check(["touch", on_node])
    try:
        first = run_job(site, image, f"echo first > /tmp/{marker} && ls -A /tmp > /job/tmp.txt")
        # The job saw its own file in /tmp and nothing of the node's /tmp ...
        assert read(site, f"{first}/tmp.txt") == f"{marker}\n"
        # ... and left nothing in the node's /tmp.
        assert site.transport.run(["test", "-e", f"/tmp/{marker}"]).exit_code == 1
        second = run_job(site, image, "ls -A /tmp > /job/tmp.txt")
        assert read(site, f"{second}/tmp.txt") == ""  # a second job sees an empty /tmp
    finally:
        site.transport.run(["rm", "-f", "--", on_node, f"/tmp/{marker}"])


def test_the_container_sees_the_specs_env_exactly_and_nothing_of_the_service_account(  # type: ignore[no-untyped-def]
        site, image) -> None:
    probe = f"leak-{uuid.uuid4().hex}"
    dump = "".join(f'printf %s "${name}" > /job/value-{name}; ' for name in TRICKY)
    job_dir = run_job(
        site, image, f"export -p > /job/exported.sh; {dump}", env=TRICKY,
        submit_env={"HEROES_LEAK_PROBE": probe},
        # Outside the container the batch script does carry the service account's environment.
        before_container=f"printenv HEROES_LEAK_PROBE > {shlex.quote('host-probe.txt')}")
    assert read(site, f"{job_dir}/host-probe.txt") == f"{probe}\n"
    for name, value in TRICKY.items():
        assert read(site, f"{job_dir}/value-{name}") == value, name
    exported = read(site, f"{job_dir}/exported.sh")
    words = shlex.split(exported)
    assert words[::2] == ["export"] * (len(words) // 2)
    variables = dict(word.split("=", 1) for word in words[1::2])
    # Only the spec's variables, the PATH the runtime sets, the shell's own PWD/SHLVL and
    # Charliecloud's CH_RUNNING marker: no HOME, USER, SLURM_*, SSH_* or the probe.
    assert set(variables) == {*TRICKY, "PATH", "PWD", "SHLVL", "CH_RUNNING"}
    assert {name: variables[name] for name in TRICKY} == TRICKY
    assert probe not in exported


def test_an_image_reached_through_a_link_out_of_the_image_roots_is_refused(site, image) -> None:  # type: ignore[no-untyped-def]
    roots = site.image_roots
    assert any(image["path"].startswith(root + "/") for root in roots)
    assert verify_image(site.transport, ImageRef(**image), roots=roots) == image["path"]
    tag = uuid.uuid4().hex[:12]
    outside = f"{site.config.work_root}/itest-image-{tag}.tar.gz"  # a byte-identical copy
    link = f"{roots[0]}/itest-link-{tag}.tar.gz"
    fifo = f"{roots[0]}/itest-fifo-{tag}.tar.gz"
    directory = f"{roots[0]}/itest-dir-{tag}.tar.gz"
    try:
        site.transport.check(["cp", "--", image["path"], outside])
        site.transport.check(["ln", "-s", "--", outside, link])
        site.transport.check(["mkfifo", "--", fifo])
        site.transport.check(["mkdir", "--", directory])
        with pytest.raises(ImageError, match=rf"\[local-slurm\] image {outside} is outside the "
                                             rf"centre's allowed image roots \({roots[0]}\)"):
            verify_image(site.transport, ImageRef(path=outside, digest=image["digest"]), roots=roots)
        with pytest.raises(ImageError, match=rf"image {link} resolves to {outside}, outside"):
            verify_image(site.transport, ImageRef(path=link, digest=image["digest"]), roots=roots)
        with pytest.raises(ImageError, match=rf"image {fifo} is a fifo, not a regular file"):
            verify_image(site.transport, ImageRef(path=fifo, digest=image["digest"]), roots=roots)
        with pytest.raises(ImageError, match=rf"image {directory} is a directory, not a regular"):
            verify_image(site.transport, ImageRef(path=directory, digest=image["digest"]),
                         roots=roots)
    finally:
        site.transport.run(["rm", "-rf", "--", outside, link, fifo, directory])
