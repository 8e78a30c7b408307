"""Prerequisite checks through a scripted transport: every result names the thing and the fix."""

from __future__ import annotations

from heroes_core.enrolment import (
    CheckResult,
    blocking,
    check_container_runtime,
    check_disk,
    check_outbound_network,
    check_partitions,
    check_prerequisites,
    check_scheduler_commands,
    read_stamp,
)
from heroes_core.errors import HostKeyError, UnreachableError
from heroes_core.sites import Site, SiteConfig, open_site
from heroes_core.transport import CommandResult
from tests.unit.heroes_core.fakes import ScriptedTransport, ok

DF = ("Filesystem 1024-blocks Used Available Capacity Mounted on\n"
      "/dev/vda 264212084 14607184 80894080 16% /scratch\n")


def site(transport: ScriptedTransport, **overrides: object) -> Site:
    fields: dict[str, object] = {"name": "hpc1", "host": "login.example", "user": "svc",
                                 "work_root": "/scratch/heroes", "transport": "local",
                                 "container_runtime": "charliecloud", "partitions": ("debug", "batch")}
    fields.update(overrides)
    built = open_site(SiteConfig(**fields))  # type: ignore[arg-type]
    built.transport = transport
    built.scheduler.transport = transport
    return built


def shell(answers: dict[str, CommandResult | str]):  # type: ignore[no-untyped-def]
    """Answer ``sh -c SCRIPT ...`` by a keyword found in the script."""
    def respond(argv: list[str], _stdin: bytes | None) -> CommandResult:
        for word, answer in answers.items():
            if word in argv[2]:
                return answer if isinstance(answer, CommandResult) else ok(argv, answer)
        return ok(argv, "")
    return respond


def healthy() -> ScriptedTransport:
    return ScriptedTransport({
        "id": "svc\n", "sinfo": "debug\nbatch\n", "ch-run": "0.31\n",
        "sh": shell({"df -Pk": DF, "curl": ""}),
    })


def test_a_healthy_centre_passes_every_check() -> None:
    transport = healthy()
    results = check_prerequisites(site(transport), archive_endpoint="http://s3.example:8333",
                                  min_free_gb=10)
    assert [r.name for r in results] == ["ssh", "scheduler commands", "partitions",
                                         "container runtime", "disk space", "outbound network"]
    assert all(r.ok for r in results), results
    assert blocking(results) == []
    assert "77.1 GB free on /scratch" in results[4].detail
    assert ["ch-run", "--version"] in transport.calls
    # the endpoint and the path are arguments, never spliced into the script
    reach = next(c for c in transport.calls if c[0] == "sh" and "curl" in c[2])
    assert reach[3:] == ["sh", "http://s3.example:8333", "5"]


def test_missing_scheduler_commands_are_named() -> None:
    transport = ScriptedTransport({"sh": lambda argv, _: ok(argv, "sacct\nscancel\n")})
    result = check_scheduler_commands(site(transport))
    assert not result.ok and "sacct, scancel" in result.detail
    assert result.fix and "PATH" in result.fix


def test_a_configured_partition_the_centre_lacks_fails_with_the_choices() -> None:
    result = check_partitions(site(ScriptedTransport({"sinfo": "debug\nbatch\n"}),
                                   partitions=("debug", "gpu")))
    assert not result.ok and "gpu" in result.detail
    assert result.fix == "remove gpu from the centre block's partitions or choose from: batch, debug"


def test_a_missing_default_partition_also_fails() -> None:
    result = check_partitions(site(ScriptedTransport({"sinfo": "debug\n"}), partitions=(),
                                   default_partition="long"))
    assert not result.ok and "long" in result.detail


def test_container_runtime_follows_the_block() -> None:
    transport = ScriptedTransport({"apptainer": lambda argv, _: ok(argv, "", 127, "not found")})
    result = check_container_runtime(site(transport, container_runtime="apptainer"))
    assert not result.ok and transport.calls == [["apptainer", "--version"]]
    assert result.fix and "container_runtime" in result.fix


def test_too_little_disk_fails_and_the_threshold_is_a_parameter() -> None:
    small = site(ScriptedTransport({"sh": shell({"df -Pk": DF})}))
    assert check_disk(small, min_free_gb=50).ok
    result = check_disk(small, min_free_gb=500)
    assert not result.ok and "needs 500 GB" in result.detail and result.fix


def test_outbound_network_is_reported_never_required() -> None:
    missing_curl = site(ScriptedTransport({"sh": lambda argv, _: ok(argv, "", 127)}))
    result = check_outbound_network(missing_curl, "http://s3:8333")
    assert result.ok and not result.required and "curl is not installed" in result.detail
    blocked = site(ScriptedTransport({"sh": lambda argv, _: ok(argv, "", 28, "timed out")}))
    result = check_outbound_network(blocked, "http://s3:8333")
    assert not result.ok and not result.blocking and "cannot reach" in result.detail


def test_unreachable_login_node_reports_the_transport_error_and_skips_the_rest() -> None:
    def refuse(argv: list[str], _stdin: bytes | None) -> CommandResult:
        raise UnreachableError("cannot connect to login.example:2223", site="hpc1",
                               fix="check the host and port in the centre block")
    results = check_prerequisites(site(ScriptedTransport({"id": refuse})))
    assert results[0] == CheckResult(name="ssh", ok=False, detail="cannot connect to login.example:2223",
                                      fix="check the host and port in the centre block")
    assert all(r.detail == "not run: no SSH connection" for r in results[1:])
    assert [r.name for r in blocking(results)][:1] == ["ssh"] and results[-1].required is False


def test_a_site_that_cannot_be_opened_is_an_ssh_failure() -> None:
    def opener(config: SiteConfig) -> Site:
        raise HostKeyError("no host key is pinned for h:22", site=config.name, fix="run ssh-keyscan")
    config = SiteConfig(name="hpc1", host="h", user="svc", work_root="/w")
    (result,) = check_prerequisites(config, opener=opener)
    assert result.name == "ssh" and not result.ok and result.fix == "run ssh-keyscan"


def test_read_stamp() -> None:
    good = ScriptedTransport({"cat": '{"version": "0.1.0", "installed_at": "2026-01-01T00:00:00Z"}'})
    assert read_stamp(good, "/w/") == {"version": "0.1.0", "installed_at": "2026-01-01T00:00:00Z"}
    assert good.calls == [["cat", "/w/.heroes/runtime.json"]]
    assert read_stamp(ScriptedTransport({"cat": lambda a, _: ok(a, "", 1)}), "/w") is None
    assert read_stamp(ScriptedTransport({"cat": "not json"}), "/w") is None
