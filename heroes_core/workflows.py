"""Workflow specifications (module 6): jobs, the data that flows between them, and goals.

A workflow is a DAG. An edge says which of the parent's output files the child
reads; HEROES moves them through the central archive, so a child can run on a
different centre from its parent. Everything is checked before anything runs:
unknown ids, cycles, resources, parents a child could not tell apart.

A job names an application in one of two forms. Users name a catalogue application by name,
version and parameters (:class:`~heroes_core.catalog.ApplicationCatalogue`): its packager's
command runs in its image, fetched to whichever centre the job is placed on. Packagers testing
their own image give a ``command`` instead, and the application names an image the centres
already hold (the centres' image list, :class:`~heroes_core.catalog.Catalog`).
"""

from __future__ import annotations

from collections.abc import Mapping
from graphlib import CycleError, TopologicalSorter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from heroes_core.catalog.runs import AppJob, ResolvedApp
from heroes_core.catalog.runs import job_spec as app_job_spec
from heroes_core.errors import SpecError
from heroes_core.models import (
    GPU_TYPE_PATTERN,
    MAX_GPUS_PER_NODE,
    ImageRef,
    JobSpec,
    Name,
    check_gpu_request,
    safe_relative_path,
)

Strategy = Literal["time", "price", "energy", "weighted"]
Criterion = Literal["time", "cost", "energy"]


def parent_variable(parent: str) -> str:
    """The environment variable that tells a child where a parent's outputs are."""
    return "HEROES_PARENT_" + parent.upper().replace("-", "_").replace(".", "_")


def check_weights(strategy: Strategy | None, weights: Mapping[Criterion, float] | None) -> None:
    """The ``weighted`` strategy needs weights, none negative, summing to a positive value."""
    if strategy != "weighted":
        return
    if not weights or sum(weights.values()) <= 0:
        raise SpecError("weighted strategy needs weights that sum to a positive value")
    if any(w < 0 for w in weights.values()):
        raise SpecError("weights must not be negative")


class WorkflowJob(BaseModel):
    """One job of a workflow: an application and its request."""

    model_config = ConfigDict(extra="forbid")

    id: Name
    application: Name = Field(description="The application's name: in the catalogue, or (with a "
                                          "command) an image the centres hold.")
    version: str | None = Field(default=None, min_length=1, max_length=64,
                                description="A catalogue version or tag (default: latest).")
    parameters: dict[str, Any] = Field(default_factory=dict,
                                       description="Checked against the version's JSON Schema.")
    command: list[str] | None = Field(default=None, min_length=1,
                                      description="The raw form, for packagers testing their own "
                                                  "image: this command in the centres' image.")
    cores: int = Field(default=1, ge=1)
    nodes: int = Field(default=1, ge=1)
    gpus: int = Field(default=0, ge=0, le=MAX_GPUS_PER_NODE,
                      description=JobSpec.model_fields["gpus"].description)
    gpu_type: str | None = Field(default=None, pattern=GPU_TYPE_PATTERN,
                                 description=JobSpec.model_fields["gpu_type"].description)
    memory_mb: int | None = Field(default=None, ge=1)
    time_limit_minutes: int = Field(default=10, ge=1)
    estimate_minutes: float | None = Field(default=None, gt=0,
                                           description="The user's runtime estimate (used until "
                                                       "HEROES has enough history).")
    size: float | None = Field(default=None, gt=0, description="Problem size, a prediction feature.")
    inputs: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("inputs")
    @classmethod
    def _inside(cls, value: list[str]) -> list[str]:
        return [safe_relative_path(item) for item in value]

    @model_validator(mode="after")
    def _one_form(self) -> WorkflowJob:
        if self.command is not None and (self.version is not None or self.parameters):
            raise SpecError(f"job '{self.id}' gives a command and a version or parameters",
                            fix="name a catalogue application with its version and parameters, or "
                                "(packagers testing an image) give a command, not both")
        check_gpu_request(self.gpus, self.gpu_type)  # refused with the workflow, not at its turn
        return self

    @property
    def from_catalogue(self) -> bool:
        """Whether the job runs a catalogue application (its packager's command and image)."""
        return self.command is None

    def app_job(self) -> AppJob:
        """The job as a run of a catalogue application, for resolving and checking it."""
        return AppJob(application=self.application, version=self.version or "latest",
                      parameters=self.parameters, name=self.id, cores=self.cores, nodes=self.nodes,
                      memory_mb=self.memory_mb, time_limit_minutes=self.time_limit_minutes,
                      inputs=self.inputs, gpus=self.gpus, gpu_type=self.gpu_type)


class WorkflowEdge(BaseModel):
    """The child runs after the parent and reads ``files`` from the parent's outputs."""

    model_config = ConfigDict(extra="forbid")

    parent: str
    child: str
    files: list[str] = Field(default_factory=list)
    data_gb: float = Field(default=0.001, ge=0, description="Expected size of the files moved.")

    @field_validator("files")
    @classmethod
    def _inside(cls, value: list[str]) -> list[str]:
        return [safe_relative_path(item) for item in value]


class WorkflowSpec(BaseModel):
    """A DAG of jobs and the organisation's goals for it."""

    model_config = ConfigDict(extra="forbid")

    name: Name = "workflow"
    jobs: list[WorkflowJob] = Field(min_length=1)
    edges: list[WorkflowEdge] = Field(default_factory=list)
    strategy: Strategy | None = Field(
        default=None, description="What to optimise; None: the organisation's default (time if it set none).")
    weights: dict[Criterion, float] | None = None
    deadline_minutes: float | None = Field(default=None, gt=0)
    energy_cap_kj: float | None = Field(default=None, gt=0,
                                        description="Most energy the whole workflow may use, in kJ "
                                                    "(None: the organisation's default cap, if any).")
    allowed_sites: list[str] | None = None

    @model_validator(mode="after")
    def _dag(self) -> WorkflowSpec:
        ids = [job.id for job in self.jobs]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise SpecError(f"job id(s) {', '.join(duplicates)} appear more than once")
        for edge in self.edges:
            for end in (edge.parent, edge.child):
                if end not in ids:
                    raise SpecError(f"edge {edge.parent} -> {edge.child} names unknown job '{end}'",
                                    fix=f"use one of: {', '.join(ids)}")
        try:
            tuple(TopologicalSorter(self.graph()).static_order())
        except CycleError as exc:
            raise SpecError(f"the workflow has a cycle: {' -> '.join(exc.args[1])}",
                            fix="a workflow must be a DAG") from exc
        for job_id in ids:
            self._parents_distinct(job_id)
        if self.weights and self.strategy is None:
            raise SpecError("weights are given without a strategy",
                            fix="set strategy: weighted, or drop the weights to use the organisation's")
        check_weights(self.strategy, self.weights)
        return self

    def _parents_distinct(self, job_id: str) -> None:
        seen: dict[str, str] = {}
        for edge in self.incoming(job_id):
            other = seen.setdefault(parent_variable(edge.parent), edge.parent)
            if other != edge.parent:
                raise SpecError(f"job '{job_id}' has parents '{other}' and '{edge.parent}' whose "
                                f"outputs would both be named {parent_variable(other)}",
                                fix="rename one of them (ids differing only in case, '-', '.' or "
                                    "'_' clash)")

    def graph(self) -> dict[str, set[str]]:
        """job id -> ids of its parents."""
        graph: dict[str, set[str]] = {job.id: set() for job in self.jobs}
        for edge in self.edges:
            graph[edge.child].add(edge.parent)
        return graph

    def levels(self) -> list[list[str]]:
        """Jobs in waves: every job's parents are in earlier waves (independent jobs together)."""
        sorter = TopologicalSorter(self.graph())
        sorter.prepare()
        waves = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            waves.append(ready)
            sorter.done(*ready)
        return waves

    def job(self, job_id: str) -> WorkflowJob:
        return next(job for job in self.jobs if job.id == job_id)

    def incoming(self, job_id: str) -> list[WorkflowEdge]:
        return [edge for edge in self.edges if edge.child == job_id]

    def job_spec(self, job_id: str, *, image: ImageRef, partition: str | None,
                 keys: Mapping[str, str], resolved: ResolvedApp | None = None) -> JobSpec:
        """Job ``job_id`` as it runs: its own inputs plus the files it reads from each parent.

        A parent's files are read from the parent's outputs in the archive
        (``jobs/<parent key>/...`` in the user's area), never from the centre the parent ran
        on, so a child may run elsewhere; ``HEROES_PARENT_<ID>`` names each parent's folder.
        ``keys`` maps every parent to its job key. A catalogue job needs the version it was
        ``resolved`` to (its command and digest, which ``image`` must carry).
        """
        job = self.job(job_id)
        if job.command is not None:
            base = JobSpec(name=job.id, image=image, command=job.command, cores=job.cores, nodes=job.nodes,
                           memory_mb=job.memory_mb, time_limit_minutes=job.time_limit_minutes,
                           inputs=job.inputs, gpus=job.gpus, gpu_type=job.gpu_type)
        elif resolved is None:
            raise SpecError(f"job '{job_id}' runs catalogue application {job.application}: resolve it "
                            "against the catalogue first")
        else:
            base = app_job_spec(job.app_job(), resolved, image)
        inputs = list(base.inputs)
        env = {**job.env, **base.env}
        for edge in self.incoming(job_id):
            outputs = f"jobs/{keys[edge.parent]}"
            inputs += [f"{outputs}/{name}" for name in edge.files]
            env[parent_variable(edge.parent)] = outputs
        return JobSpec.model_validate({**base.model_dump(), "partition": partition, "inputs": inputs,
                                       "env": env})
