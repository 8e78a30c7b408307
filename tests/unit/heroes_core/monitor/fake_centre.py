"""A Slurm centre scripted at the level of its commands: squeue and sacct answer from a table of
jobs, as Slurm's own tools print them (epoch times), and every command is counted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from heroes_core.errors import ConnectionLostError
from heroes_core.sites import Site, SiteConfig, open_site
from heroes_core.transport import CommandResult
from tests.unit.heroes_core.fakes import ScriptedTransport, ok


@dataclass
class FakeJob:
    state: str = "PENDING"  # Slurm's native state
    reason: str = "Priority"
    exit: str = "0:0"
    in_queue: bool = True  # squeue still lists it; else only sacct does


@dataclass
class FakeSlurm:
    """Jobs by id; ``down`` makes every command fail as a dropped link does."""

    name: str = "hpc1"
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    down: bool = False

    def __post_init__(self) -> None:
        self.transport = ScriptedTransport({"env": self.answer}, site=self.name)

    def answer(self, argv: list[str], stdin: bytes | None) -> CommandResult:
        if self.down:
            raise ConnectionLostError("the link to the login node dropped", site=self.name)
        assert argv[1] == "SLURM_TIME_FORMAT=%s"
        stamp = str(int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()))
        if argv[2] == "squeue":
            return ok(argv, "".join(f"{i}|{j.state}|{j.reason}|{stamp}|{stamp}\n"
                                    for i, j in self.jobs.items() if j.in_queue))
        asked = next(a for a in argv if a.startswith("--jobs=")).partition("=")[2].split(",")
        return ok(argv, "".join(f"{i}|{self.jobs[i].state}|{self.jobs[i].exit}|None|{stamp}|{stamp}|{stamp}\n"
                                for i in asked if i in self.jobs and not self.jobs[i].in_queue))

    def end(self, job_id: str, state: str = "COMPLETED", exit: str = "0:0") -> None:
        """The job leaves the queue: only accounting knows it now."""
        self.jobs[job_id] = FakeJob(state=state, reason="None", exit=exit, in_queue=False)

    def calls(self, program: str) -> int:
        return sum(1 for call in self.transport.calls if call[2:3] == [program])

    def site(self) -> Site:
        site = open_site(SiteConfig(name=self.name, host="h", user="svc", work_root="/w",
                                    transport="local", scheduler="slurm"))
        site.transport = self.transport
        site.scheduler.transport = self.transport
        return site
