"""A job named by application: resolved against the catalogue, checked, turned into a job spec.

Users of an application give its name, a version (or tag) and parameters; the packager's
command and image do the rest. Everything that can be refused is refused here, before any
byte moves or any money is reserved: a version the caller may not run (unpublished to them,
or untested for anyone but its owners), parameters the version's JSON Schema refuses, an
application without a command.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from heroes_core.catalog.catalogue import ApplicationCatalogue
from heroes_core.catalog.command import parameters_env, render_command
from heroes_core.catalog.models import ApplicationVersion, Publication, RegisteredApplication
from heroes_core.errors import NotInArchiveError, SpecError
from heroes_core.models import GPU_TYPE_PATTERN, MAX_GPUS_PER_NODE, ImageRef, JobSpec, Name


class AppJob(BaseModel):
    """What a user asks to run by application: the rest comes from the catalogue."""

    model_config = ConfigDict(extra="forbid")

    application: Name = Field(description="The application's name in the catalogue.")
    version: str = Field(default="latest", min_length=1, max_length=64, description="A version or a tag.")
    parameters: dict[str, Any] = Field(default_factory=dict,
                                       description="Checked against the version's JSON Schema.")
    name: Name | None = Field(default=None, description="The job's name (default: the application's).")
    partition: str | None = None
    cores: int = Field(default=1, ge=1, le=100_000)
    nodes: int = Field(default=1, ge=1, le=10_000)
    memory_mb: int | None = Field(default=None, ge=1)
    time_limit_minutes: int = Field(default=10, ge=1, le=60 * 24 * 30)
    inputs: list[str] = Field(default_factory=list, description="Files in your home to stage in.")
    output_limit_mb: int | None = Field(default=None, ge=1, le=1024 * 1024)
    gpus: int = Field(default=0, ge=0, le=MAX_GPUS_PER_NODE,
                      description=JobSpec.model_fields["gpus"].description)
    gpu_type: str | None = Field(default=None, pattern=GPU_TYPE_PATTERN,
                                 description=JobSpec.model_fields["gpu_type"].description)


class ResolvedApp(BaseModel):
    """The application and version a job runs, and the publication it runs under (None: its owners)."""

    application: RegisteredApplication
    version: ApplicationVersion
    publication: Publication | None


def resolve(catalogue: ApplicationCatalogue, job: AppJob, *, organisation: str,
            project: str | None) -> ResolvedApp:
    """The version ``job`` names, if a user of ``organisation`` in ``project`` may run it so."""
    if not catalogue.can_run(job.application, job.version, organisation, project):
        where = f"{organisation}/{project}" if project else organisation
        raise NotInArchiveError(f"no application {job.application} {job.version} that {where} may run",
                                site="catalogue", fix="list the applications published to you "
                                                      "(heroes app ls), or run in the project it is "
                                                      "published to")
    application = catalogue.application(job.application)
    version = catalogue.get(job.application, job.version)
    if not application.command:
        raise SpecError(f"application {application.name} has no command, so it cannot be run by name",
                        site="catalogue", fix="its packager registers it with a command")
    catalogue.validate_parameters(job.application, version.version, job.parameters)
    publication = None
    if application.organisation != organisation:
        projects = (project,) if project else ()
        publication = next(pub for pub in version.publications if pub.target.admits(organisation, projects))
    return ResolvedApp(application=application, version=version, publication=publication)


def job_spec(job: AppJob, resolved: ResolvedApp, image: ImageRef) -> JobSpec:
    """The job spec a run of ``job`` submits, its image the one the centre verified."""
    if image.digest != resolved.version.digest:
        raise SpecError(f"the image on the centre is {image.digest}, not {resolved.application.name} "
                        f"{resolved.version.version}'s {resolved.version.digest}", site="catalogue")
    return JobSpec(name=job.name or resolved.application.name, image=image,
                   command=render_command(resolved.application.command, job.parameters),
                   partition=job.partition, cores=job.cores, nodes=job.nodes, memory_mb=job.memory_mb,
                   time_limit_minutes=job.time_limit_minutes, inputs=job.inputs,
                   output_limit_mb=job.output_limit_mb, env=parameters_env(job.parameters),
                   gpus=job.gpus, gpu_type=job.gpu_type)
