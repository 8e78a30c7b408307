"""prefect.yaml offers exactly what `python -m heroes.deployments` serves, so the two ways of
deploying HEROES cannot drift apart: every served deployment (cloud ones included) appears
with the same flow, tags, parameters and schedule, and nothing else does."""

from pathlib import Path
from typing import Any

import yaml
from prefect.deployments.runner import RunnerDeployment
from prefect.flows import load_flow_from_entrypoint

from heroes.deployments import all_deployments

ROOT = Path(__file__).resolve().parents[2]


def _schedule(schedule: Any) -> dict[str, Any]:
    if getattr(schedule, "interval", None) is not None:
        return {"interval": int(schedule.interval.total_seconds())}
    return {"cron": schedule.cron}


def _concurrency(limit: int | None, options: Any) -> dict[str, Any] | None:
    if limit is None:
        return None
    return {"limit": limit, "collision_strategy": str(options.collision_strategy.value)} if options \
        else {"limit": limit}


def _served(deployment: RunnerDeployment) -> dict[str, Any]:
    return {"flow": deployment.flow_name, "entrypoint": deployment.entrypoint,
            "tags": sorted(deployment.tags), "parameters": deployment.parameters,
            "schedules": [_schedule(s.schedule) for s in deployment.schedules or []],
            "concurrency": _concurrency(deployment.concurrency_limit, deployment.concurrency_options)}


def _declared(entry: dict[str, Any]) -> dict[str, Any]:
    return {"flow": load_flow_from_entrypoint(entry["entrypoint"]).name,
            "entrypoint": entry["entrypoint"], "tags": sorted(entry.get("tags", [])),
            "parameters": entry.get("parameters", {}),
            "schedules": [{k: v for k, v in s.items() if k in ("interval", "cron")}
                          for s in entry.get("schedules", [])],
            "concurrency": entry.get("concurrency_limit")}


def test_prefect_yaml_declares_every_served_deployment_and_nothing_else(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    declared = {d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    served = {d.name: d for d in all_deployments(["local-slurm"], cloud_account="heroes-aws")}
    assert sorted(declared) == sorted(served)
    for name, deployment in served.items():
        assert _declared(declared[name]) == _served(deployment), name
        assert declared[name]["work_pool"]["name"] == "heroes-process", name


def test_flow_run_processes_do_not_write_through_their_worker() -> None:
    """A pipe to the worker breaks when the worker dies, and the run's next log line would then end
    it Crashed: every deployment's runs write their output elsewhere (their logs reach the API)."""
    declared = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    for deployment in declared:
        assert deployment["work_pool"]["job_variables"]["stream_output"] is False, deployment["name"]


def test_flow_run_processes_send_the_heartbeats_the_crash_automation_waits_for() -> None:
    """Without heartbeats the automation that crashes a run whose host died never fires, and with a
    rarer beat than the one it was built for it would crash live runs."""
    from heroes.deployments.automations import HEARTBEAT_ENV

    declared = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    for deployment in declared:
        assert deployment["work_pool"]["job_variables"]["env"] == dict(HEARTBEAT_ENV), deployment["name"]
