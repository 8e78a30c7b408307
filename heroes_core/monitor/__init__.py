"""The site monitor's core: which HEROES jobs are live where, one query per site per round.

Instead of a poll loop per job (each one a flow run holding a worker slot and asking the
centre on its own), one monitor asks each centre once per interval about all HEROES jobs
there, stores their states (``tracked_jobs``) and hands every real change to the workflow
layer, which announces it as an event. No Prefect here: the layer above supplies the effects.
"""

from heroes_core.monitor.health import CentreHealth
from heroes_core.monitor.loop import MonitorHooks, RoundReport, SiteMonitor
from heroes_core.monitor.poller import poll_site
from heroes_core.monitor.schema import TrackedJobRow
from heroes_core.monitor.tracked import StateChange, TrackedJob, TrackedJobs

__all__ = [
    "CentreHealth",
    "MonitorHooks",
    "RoundReport",
    "SiteMonitor",
    "StateChange",
    "TrackedJob",
    "TrackedJobRow",
    "TrackedJobs",
    "poll_site",
]
