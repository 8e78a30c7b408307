"""Applications as flows: run one by name, and publish a version once its functional test passed.

``execute_application`` resolves the version (published to the caller, parameters valid), makes
its image available on the centre by digest (fetched from the archive into the centre's image
cache and verified there), then runs the same job steps as any job (:func:`execute_job`), the
application's licence charged beside the compute. ``execute_publication`` runs the packager's
functional test on the platform, records its result for that exact digest, and publishes only
after a pass.
"""

from __future__ import annotations

from prefect import get_run_logger

from heroes.flows.user.run_job import execute_job
from heroes.tasks import ensure_image
from heroes.tasks.applications import (
    catalogue_of,
    licence_offering,
    publish_version,
    read_job_outputs,
    record_functional_test,
    resolve_application,
    unpublish_version,
)
from heroes.tasks.resolve import load_archive, load_centre
from heroes_core.catalog import ApplicationVersion, PublicationTarget
from heroes_core.catalog.functional_test import FunctionalTest
from heroes_core.catalog.runs import AppJob, job_spec
from heroes_core.errors import JobFailedError, PermissionDeniedError
from heroes_core.identity import Action
from heroes_core.jobs import JobContext
from heroes_core.models import JobStatus


def execute_application(run_id: str, job: AppJob, *, centre: str, archive: str, organisation: str, user: str,
                        project: str | None, database: str, poll_interval: float = 1.0,
                        budget_pause_timeout: int = 3600, billing: bool = True) -> JobStatus:
    """Run ``job`` (an application by name) inside the calling flow, as ``user`` of ``organisation``."""
    resolved = resolve_application(database, job, organisation=organisation, project=project)
    licence = licence_offering(database, resolved) if billing else None
    centre_block = load_centre(centre)
    # the context execute_job derives for this run: the image's copy is recorded under the job
    context = JobContext.for_run(run_id, organisation=organisation, user=user,
                                 site=centre_block.site_config().name, project=project)
    image = ensure_image(centre_block, load_archive(archive), resolved.application.organisation,
                         resolved.version, context=context, database=database)
    return execute_job(run_id, job_spec(job, resolved, image), centre=centre, archive=archive,
                       organisation=organisation, user=user, poll_interval=poll_interval, job_key=None,
                       project=project, billing=billing, database=database,
                       budget_pause_timeout=budget_pause_timeout, licence_offering=licence,
                       application=resolved.application.name, application_version=resolved.version.version)


def execute_publication(run_id: str, name: str, version: str, *, targets: list[PublicationTarget],
                        licence_terms: str, price_offering: str, test: FunctionalTest, centre: str,
                        archive: str, organisation: str, user: str, project: str | None,
                        database: str, licence_seats: int | None = None) -> ApplicationVersion:
    """Test ``name`` ``version`` on ``centre`` as its packager, record the result, publish on a pass."""
    logger = get_run_logger()
    owned = catalogue_of(database).application(name)
    if owned.organisation != organisation:
        raise PermissionDeniedError(f"'{user}' of organisation '{organisation}' may not publish {name}: "
                                    "it belongs to another organisation",
                                    action=Action.PUBLISH_APPLICATION.value)
    tested = catalogue_of(database).get(name, version)
    job = AppJob(application=name, version=tested.version, parameters=test.parameters, inputs=test.inputs,
                 time_limit_minutes=test.time_limit_minutes, name=f"{name}-functional-test")
    problems: list[str]
    try:
        execute_application(run_id, job, centre=centre, archive=archive, organisation=organisation, user=user,
                            project=project, database=database)
        context = JobContext.for_run(run_id, organisation=organisation, user=user,
                                     site=load_centre(centre).site_config().name, project=project)
        outputs = read_job_outputs(archive, context, [output.file for output in test.expect])
        problems = test.problems(outputs.__getitem__)
    except JobFailedError as error:
        problems = [f"the test job failed: {error}"]
    version_view = record_functional_test(database, tested, passed=not problems, flow_run_id=run_id,
                                          actor=user)
    if problems:
        raise JobFailedError(f"the functional test of {name} {tested.version} ({tested.digest}) failed: "
                             + "; ".join(problems), site=centre,
                             fix="fix the image or the test, push a new version and publish it")
    logger.info("Functional test of %s %s passed for %s", name, tested.version, tested.digest)
    published = publish_version(database, version_view, targets, licence_terms=licence_terms,
                                price_offering=price_offering, actor=user, licence_seats=licence_seats)
    logger.info("Published %s %s to %s", name, tested.version, ", ".join(t.key for t in targets))
    return published


def execute_unpublication(name: str, version: str, target: PublicationTarget, *, organisation: str, user: str,
                          database: str) -> ApplicationVersion:
    """Withdraw ``name`` ``version`` from ``target``, if the application is the caller's organisation's."""
    if catalogue_of(database).application(name).organisation != organisation:
        raise PermissionDeniedError(f"'{user}' of organisation '{organisation}' may not unpublish {name}: "
                                    "it belongs to another organisation",
                                    action=Action.PUBLISH_APPLICATION.value)
    return unpublish_version(database, name, version, target, actor=user)
