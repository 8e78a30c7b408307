"""Container command lines: only the job directory is bound, private /tmp, clean environment,
network off where possible; images only from the centre's allowed roots."""

import os
import shlex
import stat
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from heroes_core.containers import (
    ENV_FILE_NAME,
    ApptainerRuntime,
    CharliecloudRuntime,
    SingularityRuntime,
    runtime_named,
    verify_image,
)
from heroes_core.errors import ImageError
from heroes_core.models import ImageRef
from heroes_core.sites import SiteConfig, open_site
from heroes_core.transport import CommandResult
from tests.unit.heroes_core.fakes import ScriptedTransport, ok

HEX = "ab" * 32
IMAGE = ImageRef(path="/images/app.sif", digest=f"sha256:{HEX}")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Values that break naive command lines: commas and quotes (Apptainer's --env), a value wrapped in
# single quotes (ch-run strips one pair), '=', '$' (ch-run expands search paths), spaces,
# newlines, unicode.
TRICKY = {
    "COMMAS": "a,b,c=d",
    "QUOTES": "it's \"quoted\"",
    "WRAPPED": "'kept'",
    "LONE": "'",
    "EXPAND": "$HOME:$PATH",
    "SPACES": "  two  words ",
    "LINES": "one\ntwo\n",
    "UNICODE": "héllo wörld ✓",
    "EMPTY": "",
}

SIF_RUNTIMES = [(ApptainerRuntime(), "apptainer"), (SingularityRuntime(), "singularity")]


@pytest.mark.parametrize(("runtime", "binary"), SIF_RUNTIMES)
def test_sif_runtimes_contain_the_job_with_a_clean_environment_and_no_network(
        runtime: ApptainerRuntime, binary: str) -> None:
    argv = runtime.exec_argv(IMAGE, ["python", "run.py"], "/w/job", {"N": "4"}, "/w/.images")
    assert argv == [binary, "exec", "--contain", "--containall", "--cleanenv", "--no-home",
                    "--bind", "/w/job:/job", "--pwd", "/job", "--net", "--network", "none",
                    "--env-file", f"/w/job/{ENV_FILE_NAME}", "/images/app.sif", "python", "run.py"]
    assert runtime.isolates_network


@pytest.mark.parametrize(("runtime", "binary"), SIF_RUNTIMES)
def test_sif_runtimes_never_put_env_values_on_the_command_line(
        runtime: ApptainerRuntime, binary: str) -> None:
    argv = runtime.exec_argv(IMAGE, ["true"], "/w/job", TRICKY, "/w/.images")
    assert "--env" not in argv
    assert not any(value and value in arg for value in TRICKY.values() for arg in argv)


@pytest.mark.parametrize(("runtime", "binary"), SIF_RUNTIMES)
def test_sif_runtimes_without_env_pass_no_env_file(runtime: ApptainerRuntime, binary: str) -> None:
    argv = runtime.exec_argv(IMAGE, ["true"], "/w/job", {}, "/w/.images")
    assert "--env-file" not in argv
    assert runtime.prepare_lines(IMAGE, "/w/.images", job_dir="/w/job", env={}) == []


def test_sif_env_file_is_written_by_the_batch_script_exactly_and_privately(tmp_path: Path) -> None:
    job_dir = tmp_path / "job dir, with 'quotes'"
    job_dir.mkdir()
    lines = ApptainerRuntime().prepare_lines(IMAGE, "/w/.images", job_dir=str(job_dir), env=TRICKY)
    script = "\n".join(["set -euo pipefail", "umask 022", *lines, ""])
    subprocess.run(["bash", "-c", script], check=True, cwd=tmp_path)
    env_file = job_dir / ENV_FILE_NAME
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert env_file.read_text() == "".join(
        f"export {name}={shlex.quote(value)}\n" for name, value in sorted(TRICKY.items()))
    # Apptainer evaluates the file with its POSIX shell interpreter: a POSIX shell that
    # starts from an empty environment and sources it must see every value exactly.
    names = sorted(TRICKY)
    dump = "".join(f'printf "%s\\0" "${name}"; ' for name in names)
    out = subprocess.run(["env", "-i", "/bin/sh", "-c", f". {shlex.quote(str(env_file))}; {dump}"],
                         capture_output=True, check=True).stdout.decode()
    assert out.split("\0")[:-1] == [TRICKY[name] for name in names]


def test_sif_env_file_replaces_a_planted_file_or_link(tmp_path: Path) -> None:
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("untouched\n")
    os.chmod(elsewhere, 0o644)
    (job_dir / ENV_FILE_NAME).symlink_to(elsewhere)
    lines = ApptainerRuntime().prepare_lines(IMAGE, "/w/.images", job_dir=str(job_dir),
                                             env={"A": "1"})
    subprocess.run(["bash", "-c", "\n".join(["set -euo pipefail", *lines])], check=True)
    env_file = job_dir / ENV_FILE_NAME
    assert not env_file.is_symlink() and env_file.read_text() == "export A=1\n"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert elsewhere.read_text() == "untouched\n"


def test_charliecloud_gives_each_job_a_private_tmp_and_a_clean_environment() -> None:
    runtime = CharliecloudRuntime()
    argv = runtime.exec_argv(IMAGE, ["sh", "-c", "echo hi"], "/w/job", {}, "/w/.images")
    assert argv == ["ch-run", "-t", "--unset-env=*", "--env-no-expand",
                    f"--set-env=PATH={DEFAULT_PATH}", "-b", "/w/job:/job", "-c", "/job",
                    f"/w/.images/{HEX}", "--", "sh", "-c", "echo hi"]
    assert not runtime.isolates_network


def test_charliecloud_passes_env_values_exactly_after_clearing_the_host_environment() -> None:
    argv = CharliecloudRuntime().exec_argv(IMAGE, ["true"], "/w/job", TRICKY, "/w/.images")
    options = argv[:argv.index("-b")]
    assert options[:3] == ["ch-run", "-t", "--unset-env=*"]  # cleared first, then set
    assert options[3] == "--env-no-expand"  # before any --set-env: '$' stays literal
    settings = [arg.removeprefix("--set-env=") for arg in options[4:]]
    assert settings == [f"PATH={DEFAULT_PATH}", *(
        f"{name}='{value}'" if name == "WRAPPED" else f"{name}={value}"
        for name, value in sorted(TRICKY.items()))]
    # What ch-run 0.31 makes of them: one pair of single quotes is stripped from a value of
    # two or more characters that starts and ends with one (a lone quote stays).
    seen = dict(setting.split("=", 1) for setting in settings[1:])
    assert {name: raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == "'" else raw
            for name, raw in seen.items()} == TRICKY


def test_charliecloud_lets_the_spec_set_path() -> None:
    argv = CharliecloudRuntime().exec_argv(IMAGE, ["true"], "/w/job", {"PATH": "/opt/bin"},
                                           "/w/.images")
    assert [arg for arg in argv if arg.startswith("--set-env=")] == ["--set-env=PATH=/opt/bin"]


def test_charliecloud_unpacks_the_image_named_by_digest() -> None:
    prepare = "\n".join(CharliecloudRuntime().prepare_lines(IMAGE, "/w/.images", job_dir="/w/job",
                                                             env={}))
    assert "mv -T" in prepare and "tar -xzf /images/app.sif" in prepare
    assert CharliecloudRuntime().prepare_lines(IMAGE, "/w/.images", job_dir="/w/job",
                                               env=TRICKY) == \
        CharliecloudRuntime().prepare_lines(IMAGE, "/w/.images", job_dir="/w/job", env={})


def test_unknown_runtime_is_refused() -> None:
    with pytest.raises(ValueError, match="docker"):
        runtime_named("docker")


# -- image checks on the centre -----------------------------------------------------------------

REGULAR, DIRECTORY, FIFO, CHAR_DEVICE = "81a4", "41ed", "11a4", "21b6"  # `stat -c %f` (hex st_mode)


def centre(files: dict[str, str], links: dict[str, str] | None = None, *,
           digest: str = HEX, site: str = "hpc1") -> ScriptedTransport:
    """A fake centre: ``files`` maps resolved paths to their `stat -c %f` mode; ``links`` maps
    paths to what they resolve to (as `realpath -m` would)."""
    links = links or {}

    def realpath(argv: list[str], stdin: bytes | None) -> CommandResult:
        assert argv[:4] == ["realpath", "-m", "-z", "--"]
        return ok(argv, "".join(links.get(path, path) + "\0" for path in argv[4:]))

    def stat_(argv: list[str], stdin: bytes | None) -> CommandResult:
        assert argv[:3] == ["stat", "-c", "%f"] and argv[3] == "--"
        if argv[4] not in files:
            return ok(argv, exit_code=1,
                      stderr=f"stat: cannot statx '{argv[4]}': No such file or directory")
        return ok(argv, files[argv[4]] + "\n")

    def sha256sum(argv: list[str], stdin: bytes | None) -> CommandResult:
        return ok(argv, f"{digest}  {argv[-1]}\n")

    return ScriptedTransport({"realpath": realpath, "stat": stat_, "sha256sum": sha256sum},
                             site=site)


ROOTS = ["/images", "/scratch/shared-images"]


def test_the_right_digest_passes() -> None:
    transport = centre({"/images/app.sif": REGULAR})
    assert verify_image(transport, IMAGE, roots=ROOTS) == "/images/app.sif"
    assert transport.calls[-1] == ["sha256sum", "--", "/images/app.sif"]


def test_a_digest_mismatch_stops_the_job() -> None:
    transport = centre({"/images/app.sif": REGULAR}, digest="cd" * 32)
    with pytest.raises(ImageError, match=r"\[hpc1\].*not the expected sha256:abab"):
        verify_image(transport, IMAGE, roots=ROOTS)


def test_a_missing_image_says_to_publish_it_under_an_allowed_root() -> None:
    with pytest.raises(ImageError) as caught:
        verify_image(centre({}), IMAGE, roots=ROOTS)
    message = str(caught.value)
    assert message.startswith("[hpc1] image /images/app.sif cannot be read")
    assert "/images, /scratch/shared-images" in message and "Fix: publish the image" in message


def test_an_image_outside_the_allowed_roots_is_refused_before_it_is_read() -> None:
    image = ImageRef(path="/home/eve/app.sif", digest=f"sha256:{HEX}")
    transport = centre({"/home/eve/app.sif": REGULAR})
    with pytest.raises(ImageError) as caught:
        verify_image(transport, image, roots=ROOTS)
    message = str(caught.value)
    assert message.startswith("[hpc1] image /home/eve/app.sif is outside the centre's allowed "
                              "image roots (/images, /scratch/shared-images)")
    assert "Fix: publish the image under one of the allowed image roots" in message
    assert transport.programs() == ["realpath"]  # never stat-ed nor hashed


def test_a_symlink_pointing_outside_the_roots_is_refused() -> None:
    transport = centre({"/etc/secret.tar": REGULAR}, {"/images/app.sif": "/etc/secret.tar"})
    with pytest.raises(ImageError, match=r"\[hpc1\] image /images/app.sif resolves to "
                                         r"/etc/secret.tar, outside the centre's allowed image "
                                         r"roots \(/images, /scratch/shared-images\)"):
        verify_image(transport, IMAGE, roots=ROOTS)
    assert "sha256sum" not in transport.programs()


def test_a_symlink_staying_inside_the_roots_is_followed() -> None:
    transport = centre({"/images/v2/app.sif": REGULAR}, {"/images/app.sif": "/images/v2/app.sif"})
    assert verify_image(transport, IMAGE, roots=ROOTS) == "/images/v2/app.sif"
    assert transport.calls[-1] == ["sha256sum", "--", "/images/v2/app.sif"]


def test_roots_are_resolved_on_the_centre_too() -> None:
    # /images is a link to /gpfs/images on the centre: an image there is inside the root.
    transport = centre({"/gpfs/images/app.sif": REGULAR},
                       {"/images": "/gpfs/images", "/images/app.sif": "/gpfs/images/app.sif"})
    assert verify_image(transport, IMAGE, roots=ROOTS) == "/gpfs/images/app.sif"
    assert transport.calls[0] == ["realpath", "-m", "-z", "--", "/images/app.sif", *ROOTS]


def test_a_sibling_directory_sharing_the_roots_prefix_is_outside() -> None:
    image = ImageRef(path="/images-evil/app.sif", digest=f"sha256:{HEX}")
    with pytest.raises(ImageError, match="outside the centre's allowed image roots"):
        verify_image(centre({"/images-evil/app.sif": REGULAR}), image, roots=ROOTS)


def test_the_root_itself_is_not_an_image() -> None:
    image = ImageRef(path="/images", digest=f"sha256:{HEX}")
    with pytest.raises(ImageError, match="outside the centre's allowed image roots"):
        verify_image(centre({"/images": DIRECTORY}), image, roots=ROOTS)


@pytest.mark.parametrize(("mode", "kind"), [(DIRECTORY, "a directory"), (FIFO, "a fifo"),
                                            (CHAR_DEVICE, "a character device")])
def test_an_image_that_is_not_a_regular_file_is_refused_unread(mode: str, kind: str) -> None:
    transport = centre({"/images/app.sif": mode})
    with pytest.raises(ImageError) as caught:
        verify_image(transport, IMAGE, roots=ROOTS)
    message = str(caught.value)
    assert message.startswith(f"[hpc1] image /images/app.sif is {kind}, not a regular file")
    assert "/images, /scratch/shared-images" in message and "Fix:" in message
    assert "sha256sum" not in transport.programs()  # a fifo would block the check forever


# -- a centre's image roots ---------------------------------------------------------------------


def test_a_centre_allows_images_below_its_work_roots_images_dir_by_default() -> None:
    config = SiteConfig(name="hpc1", host="h", user="svc", work_root="/scratch/heroes/",
                        transport="local")
    assert config.image_roots == ()
    assert open_site(config).image_roots == ("/scratch/heroes/images",)


def test_a_centre_can_name_its_image_roots() -> None:
    config = SiteConfig(name="hpc1", host="h", user="svc", work_root="/w", transport="local",
                        image_roots=("/apps/images/", "/scratch/shared"))
    assert open_site(config).image_roots == ("/apps/images", "/scratch/shared")


@pytest.mark.parametrize("root", ["images", "", "/a\nb", "/a\x00b"])
def test_an_image_root_must_be_an_absolute_plain_path(root: str) -> None:
    with pytest.raises(ValidationError, match="image root"):
        SiteConfig(name="hpc1", host="h", user="svc", work_root="/w", image_roots=(root,))
