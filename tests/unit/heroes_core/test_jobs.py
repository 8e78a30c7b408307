"""The job lifecycle's pure parts: keys, directories, scripts, idempotent submission."""

import re
import subprocess
import time
from pathlib import Path

import pytest

from heroes_core import jobs
from heroes_core.errors import CommandTimeoutError, ConnectionLostError, SpecError
from heroes_core.models import ImageRef, JobSpec, JobState, UserArea
from heroes_core.schedulers import KEY_PATTERN
from heroes_core.sites import SiteConfig, SiteLimits, open_site
from tests.unit.heroes_core.fakes import ScriptedTransport, ok

HEX = "ef" * 32
SPEC = JobSpec(name="demo", image=ImageRef(path="/img/busybox.tar.gz", digest=f"sha256:{HEX}"),
               command=["sh", "-c", "echo $(whoami) > out; rm -rf /"], partition="debug",
               env={"GREETING": "it's \"quoted\""})


def site(transport: ScriptedTransport, **overrides: object):  # type: ignore[no-untyped-def]
    config = SiteConfig(name="hpc1", host="h", user="svc", work_root="/w", transport="local",
                        container_runtime="charliecloud", partitions=("debug",), **overrides)
    built = open_site(config)
    built.transport = transport
    built.scheduler.transport = transport
    return built


def test_job_key_is_stable_per_run_and_step_and_scheduler_safe() -> None:
    key = jobs.job_key("run-1")
    assert key == jobs.job_key("run-1") != jobs.job_key("run-2") != jobs.job_key("run-1", "b")
    assert re.match(KEY_PATTERN, key)


def test_job_directory_is_per_organisation_and_user() -> None:
    area = UserArea(organisation="acme", user="ada")
    assert jobs.job_directory(site(ScriptedTransport({})), area, "heroes-k") == "/w/acme/ada/heroes-k"


def test_rendered_script_checks_digest_and_keeps_arguments_literal(tmp_path: Path) -> None:
    script = jobs.render_script(site(ScriptedTransport({})), SPEC, "/w/acme/ada/heroes-k")
    assert f"printf '%s  %s\\n' {HEX} /img/busybox.tar.gz | sha256sum --check" in script
    assert "exit 97" in script
    # The script is valid bash and the user's command is one quoted argument, not code.
    subprocess.run(["bash", "-n"], input=script.encode(), check=True)
    run = next(line for line in script.splitlines() if "exec " in line)
    assert "'echo $(whoami) > out; rm -rf /'" in run
    assert "GREETING=it'\"'\"'s \"quoted\"" in run


def _script_running(command: str, tmp_path: Path, *, output_mb: int) -> subprocess.CompletedProcess[bytes]:
    """The rendered script of a job running ``command`` on the local machine, run in tmp_path."""
    local = site(ScriptedTransport({}), limits=SiteLimits(max_output_mb=output_mb))
    local.runtime = type("Plain", (), {"exec_argv": staticmethod(lambda *_: ["sh", "-c", command]),
                                       "prepare_lines": staticmethod(lambda *_, **__: [])})()
    spec = SPEC.model_copy(update={"image": ImageRef(path="/img/x.tar.gz", digest=f"sha256:{HEX}")})
    script = jobs.render_script(local, spec, str(tmp_path))
    body = script.split("\nfi\n", 1)[1]  # past the digest check: no image here
    return subprocess.run(["bash"], input=("set -euo pipefail\ncd " + str(tmp_path) + "\n" + body).encode(),
                          capture_output=True, check=False, timeout=120)


def test_a_job_writing_one_file_past_its_output_limit_cannot(tmp_path: Path) -> None:
    ran = _script_running("head -c 3000000 /dev/zero > big", tmp_path, output_mb=1)
    assert ran.returncode == jobs.OUTPUT_LIMIT_EXIT, ran.stderr
    assert (tmp_path / "big").stat().st_size <= 1024 * 1024
    assert b"larger than its output limit of 1048576 bytes" in ran.stderr


def test_a_job_writing_many_files_past_its_output_limit_is_stopped(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "_WATCH_SECONDS", 1)
    ran = _script_running("i=0; while [ $i -lt 60 ]; do head -c 500000 /dev/zero > f$i; i=$((i+1)); "
                          "sleep 0.5; done", tmp_path, output_mb=2)
    assert ran.returncode == jobs.OUTPUT_LIMIT_EXIT, ran.stderr
    assert b"past its output limit of 2097152 bytes: stopped" in ran.stderr
    assert len(list(tmp_path.glob("f*"))) < 60, "stopped before it finished"


def test_a_job_within_its_output_limit_keeps_its_own_exit_code(tmp_path: Path) -> None:
    ran = _script_running("echo ok > out; exit 3", tmp_path, output_mb=1)
    assert ran.returncode == 3 and (tmp_path / "out").read_text() == "ok\n"
    assert not (tmp_path / jobs.OUTPUT_LIMIT_MARK).exists()


def test_a_job_may_ask_a_lower_output_limit_but_not_a_higher_one() -> None:
    capped = site(ScriptedTransport({}), limits=SiteLimits(max_output_mb=10))
    assert capped.output_limit_bytes(SPEC.model_copy(update={"output_limit_mb": 4})) == 4 * 1024 * 1024
    assert capped.output_limit_bytes(SPEC) == 10 * 1024 * 1024
    with pytest.raises(SpecError, match="asks for 11 MiB of output; this centre allows 10"):
        capped.check_limits(SPEC.model_copy(update={"output_limit_mb": 11}))


def test_limits_are_checked_before_anything_runs() -> None:
    small = site(ScriptedTransport({}), limits=SiteLimits(max_cores_per_job=1))
    with pytest.raises(SpecError, match=r"\[hpc1\] the job asks for 4 cores; this centre allows 1"):
        small.check_limits(SPEC.model_copy(update={"cores": 4}))


def test_partitions_outside_the_allowed_list_are_refused() -> None:
    with pytest.raises(SpecError, match="not offered"):
        site(ScriptedTransport({})).partition_for(SPEC.model_copy(update={"partition": "gpu"}))


def test_submit_once_reuses_a_job_that_already_carries_the_key() -> None:
    transport = ScriptedTransport({"squeue": "", "sacct": "55\n"})
    the_site = site(transport, scheduler="slurm")
    from heroes_core.schedulers import SlurmScheduler
    the_site.scheduler = SlurmScheduler(transport)
    result = jobs.submit_once(the_site, jobs.submission_for(the_site, SPEC, jobs.job_key("r"), "/w/x"))
    assert result.job_id == "55" and result.reused
    assert "sbatch" not in transport.programs()


OWNER = UserArea(organisation="acme", user="ada")


def test_owned_job_keys_are_stable_scheduler_safe_and_tell_tenants_apart() -> None:
    key = jobs.job_key("run-1", owner=OWNER)
    assert key == jobs.job_key("run-1", owner=OWNER)
    assert re.fullmatch(KEY_PATTERN, key)
    assert key != jobs.job_key("run-1", owner=UserArea(organisation="acme", user="bob"))
    assert key != jobs.job_key("run-1", owner=UserArea(organisation="other", user="ada"))
    assert jobs.require_job_key(key, OWNER) == key


@pytest.mark.parametrize("key", ["../../other-org/heroes-x", "heroes-aaaaaaaa,heroes-bbbbbbbb",
                                 "heroes-aaaaaaaaaa/..", "heroes-AAAAAAAAAA", "", "heroes-a b c d e"])
def test_a_malformed_job_key_is_refused_where_it_enters(key: str) -> None:
    with pytest.raises(SpecError, match="is malformed"):
        jobs.require_job_key(key, OWNER)


def test_another_tenants_job_key_is_refused() -> None:
    theirs = jobs.job_key("run-1", owner=UserArea(organisation="globex", user="ada"))
    with pytest.raises(SpecError, match="does not belong to acme/ada"):
        jobs.require_job_key(theirs, OWNER)
    with pytest.raises(SpecError, match="does not belong"):
        jobs.require_job_key(jobs.job_key("run-1"), OWNER)  # HEROES' own keys are not a user's


def _digest_check_part(script: str) -> str:
    """The script up to the container command: what runs before the image is trusted."""
    lines = script.splitlines()
    return "\n".join(lines[:lines.index("fi") + 1]) + "\n"


def test_the_digest_check_runs_no_part_of_a_hostile_image_path(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for path in (f"/img/x';touch {marker};'.tar.gz", f"/img/$(touch {marker})", f"/img/`touch {marker}`"):
        hostile = SPEC.model_copy(update={"image": ImageRef.model_construct(path=path,
                                                                            digest=f"sha256:{HEX}")})
        script = jobs.render_script(site(ScriptedTransport({})), hostile, str(tmp_path))
        subprocess.run(["bash", "-n"], input=script.encode(), check=True)
        ran = subprocess.run(["bash"], input=_digest_check_part(script).encode(), capture_output=True,
                             check=False)
        assert ran.returncode == 97, ran.stderr
        assert not marker.exists(), path
        assert ran.stderr.decode().endswith(f"HEROES: image {path} does not match sha256:{HEX}\n")


def test_the_digest_check_passes_a_matching_image(tmp_path: Path) -> None:
    import hashlib
    image_file = tmp_path / "image.tar.gz"
    image_file.write_bytes(b"image bytes")
    good = SPEC.model_copy(update={"image": ImageRef(
        path=str(image_file), digest="sha256:" + hashlib.sha256(b"image bytes").hexdigest())})
    script = jobs.render_script(site(ScriptedTransport({})), good, str(tmp_path))
    ran = subprocess.run(["bash"], input=_digest_check_part(script).encode(), capture_output=True,
                         check=False)
    assert ran.returncode == 0, ran.stderr


def _slurm_site(transport: ScriptedTransport):  # type: ignore[no-untyped-def]
    from heroes_core.schedulers import SlurmScheduler
    the_site = site(transport)
    the_site.scheduler = SlurmScheduler(transport)
    return the_site


@pytest.mark.parametrize("unknown_outcome", [ConnectionLostError("link dropped", site="hpc1"),
                                             CommandTimeoutError("sbatch did not answer", site="hpc1")])
def test_submit_once_reconciles_by_key_when_the_submit_outcome_is_unknown(
        unknown_outcome: Exception) -> None:
    from tests.unit.heroes_core.fakes import ok
    finds = iter(["", "", "57\n"])

    def sbatch(argv, stdin):  # type: ignore[no-untyped-def]
        raise unknown_outcome

    def sacct(argv, stdin):  # type: ignore[no-untyped-def]
        return ok(argv, next(finds))
    transport = ScriptedTransport({"squeue": "", "sacct": sacct, "sbatch": sbatch})
    the_site = _slurm_site(transport)
    submission = jobs.submission_for(the_site, SPEC, jobs.job_key("r", owner=OWNER), "/w/x")
    result = jobs.submit_once(the_site, submission, settle_s=0)
    assert result.job_id == "57" and not result.reused
    assert transport.programs().count("sbatch") == 1


def test_submit_once_gives_up_with_the_timeout_when_no_job_appears() -> None:
    def slow(argv, stdin):  # type: ignore[no-untyped-def]
        raise CommandTimeoutError("sbatch did not answer in 60 s", site="hpc1")
    transport = ScriptedTransport({"squeue": "", "sacct": "", "sbatch": slow})
    the_site = _slurm_site(transport)
    submission = jobs.submission_for(the_site, SPEC, jobs.job_key("r", owner=OWNER), "/w/x")
    with pytest.raises(CommandTimeoutError, match="did not answer"):
        jobs.submit_once(the_site, submission, settle_s=0, attempts=3)
    assert transport.programs().count("sbatch") == 1


def test_extra_jobs_carrying_one_key_are_cancelled_and_the_first_is_kept() -> None:
    transport = ScriptedTransport({"squeue": "61\n", "sacct": "60\n62\n", "scancel": ""})
    the_site = _slurm_site(transport)
    submission = jobs.submission_for(the_site, SPEC, jobs.job_key("r", owner=OWNER), "/w/x")
    result = jobs.submit_once(the_site, submission)
    assert result.job_id == "60" and result.reused
    assert ["scancel", "61", "62"] in transport.calls
    assert "sbatch" not in transport.programs()


def test_the_ear_policy_a_job_runs_under_reaches_its_submission() -> None:
    the_site = _slurm_site(ScriptedTransport({}))
    chosen = SPEC.model_copy(update={"energy_policy": "min_energy"})
    assert jobs.submission_for(the_site, chosen, jobs.job_key("r", owner=OWNER), "/w/x").energy_policy == "min_energy"
    assert jobs.submission_for(the_site, SPEC, jobs.job_key("r", owner=OWNER), "/w/x").energy_policy is None


def test_waiting_up_to_a_limit_hands_back_a_running_job_instead_of_polling_on() -> None:
    stamp = str(int(time.time()))
    polls = []

    def env(argv, stdin):  # type: ignore[no-untyped-def]
        polls.append(argv)
        return ok(argv, f"21|RUNNING|None|{stamp}|{stamp}\n" if "squeue" in argv else "")
    the_site = _slurm_site(ScriptedTransport({"env": env}))
    status = jobs.wait_for(the_site, "21", interval=0.01, up_to_s=0.0)
    assert status.state is JobState.RUNNING and len(polls) == 1  # one look, then handed back
