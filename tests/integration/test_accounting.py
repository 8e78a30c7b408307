"""Every job is accounted whichever flow ran it, its energy labelled with where it came from, and
an organisation's use summed for its managers. Real Slurm accounting over SSH, the test bed's
PostgreSQL, the Prefect server."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from heroes_core.models import ImageRef, JobSpec

pytestmark = pytest.mark.integration


def accounting(job_key: str) -> Any:
    from heroes.blocks import HeroesDatabase
    from heroes_core.decision.metadata import MetadataStore

    return MetadataStore(HeroesDatabase.load("heroes-database").database()).get(job_key)


def test_a_run_job_job_is_accounted_with_its_context_and_its_energys_provenance(archive, image, user, site) -> None:  # type: ignore[no-untyped-def]
    from heroes.blocks import HPCCentre
    from heroes.flows import run_job
    from heroes_core.jobs import job_key
    from heroes_core.models import UserArea

    key = job_key(f"acct-{uuid.uuid4().hex[:8]}", owner=UserArea(organisation="itest", user=user))
    job = JobSpec(name="counter", image=ImageRef(**image), command=["sh", "-c", "sleep 3; echo done > out.txt"],
                  time_limit_minutes=2, cores=2)
    state = run_job(spec=job, organisation="itest", user=user, project="p1", job_key=key, return_state=True)
    assert state.is_completed(), state.message
    status = state.result()
    record = accounting(key)
    assert record is not None, "the job has no accounting record"
    assert (record.organisation, record.project, record.user, record.application) == ("itest", "p1", user,
                                                                                     "counter")
    assert (record.site, record.scheduler_job_id, record.outcome, record.exit_code) == (
        "local-slurm", status.job_id, "COMPLETED", 0)
    assert record.cores == 2 and record.used_time_s >= 3 and record.cpu_time_s is not None
    assert record.cost is not None and record.currency == "EUR"  # charged through the ledger
    usage = site.scheduler.usage(status.job_id)
    if usage.energy_source == "slurm":  # the test bed's Slurm measured it
        assert (record.energy_source, record.energy_j) == ("slurm", usage.energy_j)
    else:  # else the provider's declared power model, never a constant
        power = HPCCentre.load("local-slurm").site_config().power_model(record.partition)
        assert power is not None and record.energy_source == "model"
        assert record.energy_j == pytest.approx(power.energy_j(seconds=usage.elapsed_s, nodes=usage.nodes,
                                                               cores=usage.cores))
    assert record.energy_policy is None  # the test bed's centres have no EAR


def test_a_job_naming_an_energy_policy_its_organisation_does_not_allow_is_refused_before_submission(
        archive, image, user, site) -> None:  # type: ignore[no-untyped-def]
    from heroes.flows import run_job
    from heroes_core.jobs import job_key
    from heroes_core.models import UserArea

    key = job_key(f"pol-{uuid.uuid4().hex[:8]}", owner=UserArea(organisation="itest", user=user))
    job = JobSpec(image=ImageRef(**image), command=["true"], time_limit_minutes=2, energy_policy="min_time")
    state = run_job(spec=job, organisation="itest", user=user, job_key=key, return_state=True)
    assert state.is_failed()
    assert "its users may not choose 'min_time'" in str(state.message)
    assert site.scheduler.find(key) == []


def test_an_organisations_usage_summary_counts_its_jobs_per_day_and_application_and_no_one_elses(
        blocks) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from heroes.blocks import HeroesDatabase
    from heroes.flows import usage_summary_flow
    from heroes_core.decision.metadata import JobMetadata, MetadataStore

    store = MetadataStore(HeroesDatabase.load("heroes-database").database())
    organisation, other = f"acct{uuid.uuid4().hex[:6]}", f"acct{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC) - timedelta(minutes=5)
    for index, (owner, energy) in enumerate(((organisation, 7200.0), (organisation, None), (other, 1e9))):
        store.record(JobMetadata(job_key=f"{owner}-{index}-{uuid.uuid4().hex[:6]}", workflow_id="w",
                                 organisation=owner, user="ada", application="solver", site="local-slurm",
                                 cores=4, nodes=1, requested_time_s=600, used_time_s=900, submitted_at=now,
                                 energy_j=energy, energy_source="slurm" if energy else "none",
                                 outcome="COMPLETED", predicted_time_s=450.0 if owner == organisation else 9.0))
    state = usage_summary_flow(organisation=organisation, days=1, return_state=True)
    assert state.is_completed(), state.message
    [day] = state.result().days
    assert (day["jobs"], day["core_hours"], day["measured_kj"], day["energy_unknown"]) == (2, 2.0, 7.2, 1)
    [application] = state.result().applications
    assert (application["application"], application["jobs"]) == ("solver", 2)
    [accuracy] = state.result().accuracy  # the other organisation's predictions are not in it
    assert (accuracy["count"], accuracy["mean_ratio_time"]) == (2, 2.0)
    chart = image_artifact(state.state_details.flow_run_id)
    assert chart.startswith(b"\x89PNG")  # the chart users without a dashboard see, fetched by its URL


def image_artifact(flow_run_id: Any) -> bytes:
    """The bytes behind the run's image artifact, fetched as the UI's browser would."""
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterType

    with get_client(sync_client=True) as client:
        [found] = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]), type=ArtifactFilterType(any_=["image"])))
    return httpx.get(str(found.data), timeout=30).content
