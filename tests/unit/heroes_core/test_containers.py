"""Container command lines: only the job directory is bound, network off where possible."""

import pytest

from heroes_core.containers import (
    ApptainerRuntime,
    CharliecloudRuntime,
    SingularityRuntime,
    runtime_named,
    verify_image,
)
from heroes_core.errors import ImageError
from heroes_core.models import ImageRef
from tests.unit.heroes_core.fakes import ScriptedTransport, ok

HEX = "ab" * 32
IMAGE = ImageRef(path="/images/app.sif", digest=f"sha256:{HEX}")


@pytest.mark.parametrize(("runtime", "binary"), [(ApptainerRuntime(), "apptainer"),
                                                 (SingularityRuntime(), "singularity")])
def test_sif_runtimes_contain_the_job_without_network(runtime: ApptainerRuntime, binary: str) -> None:
    argv = runtime.exec_argv(IMAGE, ["python", "run.py"], "/w/job", {"N": "4"}, "/w/.images")
    assert argv[:2] == [binary, "exec"]
    assert "--containall" in argv and "--no-home" in argv
    assert argv[argv.index("--bind") + 1] == "/w/job:/job"
    assert argv[argv.index("--network") + 1] == "none" and "--net" in argv
    assert argv[argv.index("--env") + 1] == "N=4"
    assert argv[-3:] == ["/images/app.sif", "python", "run.py"]
    assert runtime.isolates_network


def test_charliecloud_runs_the_unpacked_image_named_by_digest() -> None:
    runtime = CharliecloudRuntime()
    argv = runtime.exec_argv(IMAGE, ["sh", "-c", "echo hi"], "/w/job", {}, "/w/.images")
    assert argv == ["ch-run", "-b", "/w/job:/job", "-c", "/job", f"/w/.images/{HEX}", "--",
                    "sh", "-c", "echo hi"]
    prepare = "\n".join(runtime.prepare_lines(IMAGE, "/w/.images"))
    assert "mv -T" in prepare and "tar -xzf /images/app.sif" in prepare
    assert not runtime.isolates_network


def test_unknown_runtime_is_refused() -> None:
    with pytest.raises(ValueError, match="docker"):
        runtime_named("docker")


def test_a_digest_mismatch_stops_the_job() -> None:
    transport = ScriptedTransport({"sha256sum": f"{'cd' * 32}  /images/app.sif\n"}, site="hpc1")
    with pytest.raises(ImageError, match=r"\[hpc1\].*not the expected sha256:abab"):
        verify_image(transport, IMAGE)


def test_a_missing_image_says_to_publish_it() -> None:
    def missing(argv: list[str], stdin: bytes | None):  # type: ignore[no-untyped-def]
        return ok(argv, exit_code=1, stderr="sha256sum: /images/app.sif: No such file or directory")
    with pytest.raises(ImageError, match="publish the image"):
        verify_image(ScriptedTransport({"sha256sum": missing}), IMAGE)


def test_the_right_digest_passes() -> None:
    verify_image(ScriptedTransport({"sha256sum": f"{HEX}  /images/app.sif\n"}), IMAGE)
