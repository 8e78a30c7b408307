"""botocore ClientError codes -> HEROES errors naming region, instance type and fix."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from heroes_core.cloud import (
    CloudAuthError,
    CloudError,
    InstanceTypeUnavailableError,
    NodeNotFoundError,
    QuotaExceededError,
    aws_error,
)


def client_error(code: str, message: str = "boom") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "RunInstances")


@pytest.mark.parametrize("code", ["AuthFailure", "InvalidClientTokenId", "SignatureDoesNotMatch",
                                  "UnauthorizedOperation"])
def test_credentials_errors(code: str) -> None:
    error = aws_error(client_error(code), operation="RunInstances", region="eu-west-3")
    assert isinstance(error, CloudAuthError) and error.code == code
    assert error.site == "aws:eu-west-3" and error.fix


def test_quota_exceeded_names_region_and_type() -> None:
    error = aws_error(client_error("InstanceLimitExceeded", "You have requested more instances (21) than "
                                   "your current instance limit of 20 allows"),
                      operation="RunInstances", region="eu-north-1", instance_type="c5.24xlarge")
    assert isinstance(error, QuotaExceededError)
    assert "c5.24xlarge" in str(error) and "eu-north-1" in str(error) and "limit of 20" in str(error)
    assert error.fix and "quota" in error.fix and "terminate-idle-nodes" in error.fix


@pytest.mark.parametrize(("code", "message"), [
    ("Unsupported", "Your requested instance type (p4d.24xlarge) is not supported in your requested "
                    "Availability Zone (eu-west-3c)."),
    ("InvalidParameterValue", "Invalid value 'x9.big' for InstanceType."),
    ("InvalidInstanceType.NotFound", "The instance type 'x9.big' does not exist"),
])
def test_instance_type_not_offered(code: str, message: str) -> None:
    error = aws_error(client_error(code, message), operation="RunInstances", region="eu-west-3",
                      instance_type="p4d.24xlarge")
    assert isinstance(error, InstanceTypeUnavailableError)
    assert "p4d.24xlarge is not offered in eu-west-3" in str(error)
    assert error.fix and "describe-instance-type-offerings --region eu-west-3" in error.fix


def test_other_errors_keep_the_code() -> None:
    assert isinstance(aws_error(client_error("InvalidInstanceID.NotFound"), operation="StopInstances",
                                region="r", subject="i-1"), NodeNotFoundError)
    other = aws_error(client_error("InvalidParameterValue", "bad subnet"), operation="RunInstances", region="r")
    assert type(other) is CloudError and "InvalidParameterValue: bad subnet" in str(other)
