"""The job lifecycle's pure parts: keys, directories, scripts, idempotent submission."""

import re
import subprocess
from pathlib import Path

import pytest

from heroes_core import jobs
from heroes_core.errors import ConnectionLostError, SpecError
from heroes_core.models import ImageRef, JobSpec, UserArea
from heroes_core.schedulers import KEY_PATTERN
from heroes_core.sites import SiteConfig, SiteLimits, open_site
from tests.unit.heroes_core.fakes import ScriptedTransport

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
    assert f"{HEX}  /img/busybox.tar.gz" in script and "exit 97" in script
    # The script is valid bash and the user's command is one quoted argument, not code.
    subprocess.run(["bash", "-n"], input=script.encode(), check=True)
    last = script.strip().splitlines()[-1]
    assert "'echo $(whoami) > out; rm -rf /'" in last
    assert "GREETING=it'\"'\"'s \"quoted\"" in last


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


def test_submit_once_reconciles_by_key_when_the_link_drops_mid_submit() -> None:
    from heroes_core.schedulers import SlurmScheduler
    finds = iter(["", "56\n"])

    def drop(argv, stdin):  # type: ignore[no-untyped-def]
        raise ConnectionLostError("link dropped", site="hpc1")

    def sacct(argv, stdin):  # type: ignore[no-untyped-def]
        from tests.unit.heroes_core.fakes import ok
        return ok(argv, next(finds))
    transport = ScriptedTransport({"squeue": "", "sacct": sacct, "sbatch": drop})
    the_site = site(transport)
    the_site.scheduler = SlurmScheduler(transport)
    result = jobs.submit_once(the_site, jobs.submission_for(the_site, SPEC, jobs.job_key("r"), "/w/x"))
    assert result.job_id == "56" and not result.reused
    assert transport.programs().count("sbatch") == 1
