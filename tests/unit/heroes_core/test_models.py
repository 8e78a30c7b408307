import pytest
from pydantic import ValidationError

from heroes_core.errors import PathEscapeError
from heroes_core.models import (
    MAX_ARGUMENT_BYTES,
    ImageRef,
    JobSpec,
    JobState,
    UserArea,
    safe_relative_path,
)

DIGEST = "sha256:" + "a" * 64


def image() -> ImageRef:
    return ImageRef(path="/images/app.sif", digest=DIGEST)


@pytest.mark.parametrize("bad", ["../secret", "a/../../b", "/etc/passwd", "", "a\nb"])
def test_paths_that_leave_the_user_area_are_refused(bad: str) -> None:
    with pytest.raises(PathEscapeError):
        safe_relative_path(bad)


def test_relative_paths_are_normalised() -> None:
    assert safe_relative_path("inputs//data.csv") == "inputs/data.csv"


def test_job_spec_refuses_escaping_inputs() -> None:
    with pytest.raises(ValidationError, match="climbs out"):
        JobSpec(image=image(), command=["true"], inputs=["../other-user/data"])


def test_job_spec_refuses_malformed_digest_and_relative_image_path() -> None:
    with pytest.raises(ValidationError, match="digest\n  String should match pattern"):
        ImageRef(path="/images/app.sif", digest="md5:abc")
    with pytest.raises(ValidationError, match="absolute"):
        ImageRef(path="images/app.sif", digest=DIGEST)


@pytest.mark.parametrize("path", ["/img/x';touch /tmp/p;'.sif", "/img/$(id).sif", "/img/a b.sif",
                                  "/img/a#b.sif", "/img/`id`.sif", "/img/../etc/shadow",
                                  "/img/./a.sif", "/img//a.sif", "/img/a.sif\n", "/"])
def test_image_paths_outside_the_safe_character_set_or_with_dot_parts_are_refused(path: str) -> None:
    with pytest.raises(ValidationError, match="image path"):
        ImageRef(path=path, digest=DIGEST)


def test_job_spec_refuses_empty_command_and_bad_names() -> None:
    with pytest.raises(ValidationError, match="command\n  List should have at least 1 item"):
        JobSpec(image=image(), command=[])
    with pytest.raises(ValidationError, match="partition name 'debug; rm -rf /' is not a valid name"):
        JobSpec(image=image(), command=["true"], partition="debug; rm -rf /")
    with pytest.raises(ValidationError, match="environment variable name 'BAD NAME'"):
        JobSpec(image=image(), command=["true"], env={"BAD NAME": "x"})
    with pytest.raises(ValidationError, match="cores\n  Input should be greater than or equal to 1"):
        JobSpec(image=image(), command=["true"], cores=0)


@pytest.mark.parametrize(("value", "why"), [
    ("a\rb", "NUL or carriage-return"), ("a\x00b", "NUL or carriage-return"),
    ("\ud800", "lone surrogate"), ("x" * (MAX_ARGUMENT_BYTES + 1), "at most 65536"),
])
def test_arguments_and_env_values_that_cannot_reach_the_job_intact_are_refused(value: str, why: str) -> None:
    with pytest.raises(ValidationError, match=f"command argument 1 .*{why}"):
        JobSpec(image=image(), command=["echo", value])
    with pytest.raises(ValidationError, match=f"environment variable X .*{why}"):
        JobSpec(image=image(), command=["true"], env={"X": value})


def test_a_command_line_too_long_in_total_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"command and environment take .* bytes; at most 262144"):
        JobSpec(image=image(), command=["echo", *["x" * 60_000] * 5])


def test_newlines_quotes_and_unicode_in_arguments_are_accepted() -> None:
    spec = JobSpec(image=image(), command=["sh", "-c", "echo 'a\nb' \"$X\" — ✓"], env={"X": "é,\"'\n"})
    assert spec.command[2] == "echo 'a\nb' \"$X\" — ✓"


@pytest.mark.parametrize("organisation", ["ACME", "acme.eu", "acme_eu", "-acme", "acme-", "ab",
                                          "a" * 41, "acme/eu"])
def test_organisation_names_are_lower_case_bucket_safe_so_none_can_share_a_bucket(organisation: str) -> None:
    with pytest.raises(ValidationError, match="organisation\n  String should match pattern"):
        UserArea(organisation=organisation, user="ada")


@pytest.mark.parametrize("organisation", ["images", "heroes"])
def test_organisation_names_heroes_keeps_for_itself_are_reserved(organisation: str) -> None:
    with pytest.raises(ValidationError, match=f"organisation name '{organisation}' is reserved"):
        UserArea(organisation=organisation, user="ada")


@pytest.mark.parametrize("user", ["billing", "Terraform", "heroes", "projects"])
def test_user_names_heroes_keeps_for_itself_are_reserved(user: str) -> None:
    with pytest.raises(ValidationError, match=f"user name '{user}' is reserved"):
        UserArea(organisation="acme", user=user)


def test_only_completed_failed_and_cancelled_are_final() -> None:
    assert {s for s in JobState if s.is_final} == {JobState.COMPLETED, JobState.FAILED,
                                                   JobState.CANCELLED}


def test_a_job_asks_for_no_gpu_unless_it_says_so() -> None:
    spec = JobSpec(image=image(), command=["true"])
    assert (spec.gpus, spec.gpu_type) == (0, None)
    assert JobSpec(image=image(), command=["true"], gpus=2, gpu_type="A100").gpu_type == "A100"


@pytest.mark.parametrize(("gpus", "gpu_type", "message"), [
    (-1, None, "greater than or equal to 0"),
    (65, None, "less than or equal to 64"),
    (1, "a100:2", "should match pattern"),  # would split the batch system's gpu:TYPE:N request
    (1, "a100,gpu:9", "should match pattern"),
    (1, "", "should match pattern"),
    (1, "-a100", "should match pattern"),
    (0, "a100", "gpu_type 'a100' is given without gpus"),
])
def test_gpu_requests_that_ask_for_nothing_sensible_are_refused(gpus: int, gpu_type: str | None,
                                                                message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        JobSpec(image=image(), command=["true"], gpus=gpus, gpu_type=gpu_type)
