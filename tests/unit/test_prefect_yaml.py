"""prefect.yaml's deployments point at the same flows the package exports."""

from pathlib import Path

import yaml
from prefect.flows import load_flow_from_entrypoint

import heroes.flows

ROOT = Path(__file__).resolve().parents[2]


def test_every_prefect_yaml_entrypoint_loads_the_packaged_flow(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    packaged = {"run-job": heroes.flows.run_job, "run-workflow": heroes.flows.run_workflow,
                "watch-budgets": heroes.flows.watch_budgets,
                "billing-report": heroes.flows.billing_report,
                "decision-dashboard": heroes.flows.decision_dashboard,
                "enroll-hpc-centre": heroes.flows.enroll_hpc_centre,
                "check-compliance-local-slurm": heroes.flows.check_hpc_centre_compliance}
    assert {d["name"] for d in deployments} == set(packaged)
    for deployment in deployments:
        loaded = load_flow_from_entrypoint(deployment["entrypoint"])
        assert loaded.name == packaged[deployment["name"]].name
