"""The placement problem and its answer, as data (see :mod:`heroes_core.decision.placement`).

Numbers are plain floats: the solver works in floating point and the ledger, not
the placement, is where money is kept exact. Checks that need to name a job or an
edge (negative numbers, cycles, unknown endpoints) are done by
:func:`heroes_core.decision.placement._instance.validate` rather than by field
constraints, so the error says *which* job is wrong instead of "value must be >= 0".
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

Strategy = Literal["time", "price", "energy", "weighted"]
Status = Literal["optimal", "feasible", "infeasible"]


class Option(BaseModel):
    """One way to run one job: where, how long (run time plus expected queue wait), what it costs."""

    model_config = ConfigDict(frozen=True)

    site: str
    partition: str | None = None
    time_s: float
    cost: float
    energy_j: float = 0.0
    cores: int = 1
    gpus: int = 0
    licence: str | None = None
    infeasible_reason: str | None = None


class Job(BaseModel):
    """A workflow step with its options; ``input_site``/``input_gb`` say where its external input lives."""

    model_config = ConfigDict(frozen=True)

    id: str
    options: list[Option]
    required_gpus: int = 0
    input_site: str | None = None
    input_gb: float = 0.0


class Edge(BaseModel):
    """``child`` starts after ``parent`` finished and its ``data_gb`` output reached the child's site."""

    model_config = ConfigDict(frozen=True)

    parent: str
    child: str
    data_gb: float = 0.0


def _site_pair(value: object) -> object:
    """JSON writes a ``(from, to)`` key as ``"from,to"``; read it back so a problem round-trips."""
    if isinstance(value, str) and value.count(",") == 1:
        return tuple(value.split(","))
    return value


SitePair = Annotated[tuple[str, str], BeforeValidator(_site_pair)]


class Network(BaseModel):
    """Directed site-to-site links. Same site: free and instantaneous; unlisted pairs: the defaults."""

    model_config = ConfigDict(frozen=True)

    bandwidth_gbps: dict[SitePair, float] = Field(default_factory=dict)
    egress_per_gb: dict[SitePair, float] = Field(default_factory=dict)
    default_bandwidth_gbps: float = 1.0
    default_egress_per_gb: float = 0.0


class Constraints(BaseModel):
    """Hard limits. Licences not listed in ``licences`` are not limited."""

    model_config = ConfigDict(frozen=True)

    budget: float | None = None
    deadline_s: float | None = None
    energy_j: float | None = Field(
        default=None,
        description="Energy budget of the whole plan in joules: the chosen options' energy_j summed "
        "must not exceed it (None: unlimited).",
    )
    allowed_sites: set[str] | None = None
    site_capacity_cores: dict[str, int] = Field(default_factory=dict)
    licences: dict[str, int] = Field(default_factory=dict)


class Weights(BaseModel):
    """Relative importance of each criterion for the ``weighted`` strategy (normalised, see ``solve``)."""

    model_config = ConfigDict(frozen=True)

    time: float = 1.0
    cost: float = 0.0
    energy: float = 0.0


class PlacementProblem(BaseModel):
    """A workflow DAG, its options, the network between sites, the limits and what to optimise."""

    model_config = ConfigDict(frozen=True)

    jobs: list[Job]
    edges: list[Edge] = Field(default_factory=list)
    network: Network = Field(default_factory=Network)
    constraints: Constraints = Field(default_factory=Constraints)
    strategy: Strategy = "time"
    weights: Weights | None = None


class JobChoice(BaseModel):
    """The option picked for one job, when it runs in the plan, and why it was picked.

    ``cost`` is the option's own price; egress for data crossing sites is in the plan's total.
    """

    model_config = ConfigDict(frozen=True)

    job: str
    option: int
    site: str
    start_s: float
    finish_s: float
    time_s: float
    cost: float
    energy_j: float
    why: str
    runners_up: list[int]


class Violation(BaseModel):
    """A constraint that cannot hold (or that a given plan breaks), with the amounts."""

    model_config = ConfigDict(frozen=True)

    constraint: str
    needed: float
    available: float
    detail: str


class PlacementResult(BaseModel):
    """A plan with its totals, its objective, a proven lower bound and the gap between them."""

    model_config = ConfigDict(frozen=True)

    status: Status
    choices: list[JobChoice]
    makespan_s: float
    cost: float
    energy_j: float
    objective: float
    lower_bound: float
    gap: float
    solve_s: float
    violations: list[Violation]
