"""Cloud errors that name the provider and region, the thing at fault and the fix.

:func:`aws_error` turns a botocore ``ClientError`` into one of these; the OCI
module does the same for ``oci.exceptions.ServiceError``. The provider's own
code and message are kept in ``code`` and in the text, so nothing is lost.
"""

from __future__ import annotations

from typing import Any

from heroes_core.errors import HeroesError


class CloudError(HeroesError):
    """A cloud provider refused or failed a request."""

    def __init__(self, message: str, *, site: str | None = None, fix: str | None = None,
                 code: str | None = None) -> None:
        self.code = code
        super().__init__(message, site=site, fix=fix)


class CloudAuthError(CloudError):
    """The provider refused the account's credentials."""


class InstanceTypeUnavailableError(CloudError):
    """The region (or availability domain) does not offer the instance type or shape."""


class QuotaExceededError(CloudError):
    """The account's instance or vCPU quota in the region is used up."""


class NodeNotFoundError(CloudError):
    """A node id does not exist, or does not belong to HEROES."""


class NodeTimeoutError(CloudError):
    """Nodes did not reach the wanted state, or did not pass their health check, in time."""


class NodeUnhealthyError(CloudError):
    """A node is running but its health check failed."""


class ClusterBusyError(CloudError):
    """Another HEROES run held the lock on a cluster's compute nodes for longer than the caller would wait.

    Changes to one cluster's nodes (leases, starts, stops) are made one at a time (see
    :mod:`heroes_core.cloud.leases`); this says which cluster was busy, so a workflow can be placed
    elsewhere and an idle clean-up can leave the cluster to its next run."""


AUTH_CODES = frozenset({
    "AuthFailure", "UnauthorizedOperation", "InvalidClientTokenId", "SignatureDoesNotMatch",
    "IncompleteSignature", "ExpiredToken", "RequestExpired", "AccessDenied", "OptInRequired",
    "InvalidAccessKeyId", "UnrecognizedClientException",
})
QUOTA_CODES = frozenset({
    "InstanceLimitExceeded", "VcpuLimitExceeded", "MaxSpotInstanceCountExceeded",
    "InsufficientInstanceCapacity", "ResourceLimitExceeded",
})
INSTANCE_TYPE_CODES = frozenset({
    "Unsupported", "InvalidInstanceType", "InvalidInstanceType.NotFound", "UnsupportedOperation",
})


def _is_instance_type_problem(code: str, message: str) -> bool:
    if code in INSTANCE_TYPE_CODES:
        return True
    return code == "InvalidParameterValue" and "instance" in message.lower() and "type" in message.lower()


def aws_error(exc: Any, *, operation: str, region: str, instance_type: str | None = None,
              subject: str | None = None) -> CloudError:
    """A HEROES error for a botocore ``ClientError`` raised by ``operation`` in ``region``."""
    error = getattr(exc, "response", {}).get("Error", {}) or {}
    code = str(error.get("Code", "Unknown"))
    message = str(error.get("Message", exc))
    site = f"aws:{region}"
    what = f"{operation} ({code}: {message})"
    if code in AUTH_CODES:
        if code == "UnauthorizedOperation" or code == "AccessDenied":
            fix = ("grant the HEROES AWS account's IAM policy the EC2 permissions it needs "
                   "(ec2:RunInstances, Start/Stop/TerminateInstances, Describe*, CreateTags, "
                   "GetConsoleOutput)")
        else:
            fix = ("check the access key id and secret (and session token, if any) of the AWS "
                   "account block, that the key is active, and that the region is enabled for the account")
        return CloudAuthError(f"AWS refused the account's credentials for {what}", site=site, fix=fix,
                              code=code)
    if code in QUOTA_CODES:
        kind = instance_type or "instances"
        return QuotaExceededError(
            f"the account's quota for {kind} in {region} is used up: {what}", site=site, code=code,
            fix=(f"terminate unused HEROES nodes (terminate-idle-nodes), ask AWS for a higher "
                 f"EC2 quota in {region}, or pick another region or instance type"))
    if _is_instance_type_problem(code, message):
        kind = instance_type or "the requested instance type"
        return InstanceTypeUnavailableError(
            f"{kind} is not offered in {region}: {what}", site=site, code=code,
            fix=(f"choose an instance type offered in {region} "
                 f"(aws ec2 describe-instance-type-offerings --region {region}) or another region"))
    if code.startswith("InvalidInstanceID"):
        return NodeNotFoundError(f"{subject or 'a node'} does not exist: {what}", site=site, code=code,
                                 fix="list the nodes again; it may have been terminated already")
    return CloudError(f"AWS failed {what}", site=site, code=code,
                      fix="see the AWS error code above; retry if it is transient")
