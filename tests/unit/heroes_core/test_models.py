import pytest
from pydantic import ValidationError

from heroes_core.errors import PathEscapeError
from heroes_core.models import ImageRef, JobSpec, JobState, safe_relative_path

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
    with pytest.raises(ValidationError):
        ImageRef(path="/images/app.sif", digest="md5:abc")
    with pytest.raises(ValidationError, match="absolute"):
        ImageRef(path="images/app.sif", digest=DIGEST)


def test_job_spec_refuses_empty_command_and_bad_names() -> None:
    with pytest.raises(ValidationError):
        JobSpec(image=image(), command=[])
    with pytest.raises(ValidationError):
        JobSpec(image=image(), command=["true"], partition="debug; rm -rf /")
    with pytest.raises(ValidationError):
        JobSpec(image=image(), command=["true"], env={"BAD NAME": "x"})
    with pytest.raises(ValidationError):
        JobSpec(image=image(), command=["true"], cores=0)


def test_only_completed_failed_and_cancelled_are_final() -> None:
    assert {s for s in JobState if s.is_final} == {JobState.COMPLETED, JobState.FAILED,
                                                   JobState.CANCELLED}
