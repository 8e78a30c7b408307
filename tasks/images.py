"""Prefect task making an application's image available on a centre before a job runs there.

A thin wrapper over :mod:`heroes_core.catalog.image_cache`: the image is copied from its owner's
bucket into the centre's image cache if it is not there (recorded in the transfer log), checked
by digest every time, and the cache kept within the centre's ``image_cache_gb``.
"""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State

from heroes.blocks import CentralArchive, HeroesDatabase, HPCCentre
from heroes.tasks.resolve import load_archive, load_centre, load_database
from heroes_core.catalog import ApplicationVersion
from heroes_core.catalog.image_cache import ImageCache
from heroes_core.data import RcloneError, Requester, TransferLog
from heroes_core.errors import CommandTimeoutError, ConnectionLostError
from heroes_core.jobs import JobContext
from heroes_core.models import ImageRef


def _retry_transient(task: object, task_run: object, state: State[object]) -> bool:
    """Retry a dropped link, a timed-out command or a transfer that kept failing on its link; a
    wrong digest, a refused key or a missing object fails at once."""
    try:
        state.result()
    except (ConnectionLostError, CommandTimeoutError):
        return True
    except RcloneError as exc:
        return exc.transient
    except Exception:
        return False
    return False


@task(name="ensure-image", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=_retry_transient)
def ensure_image(centre: HPCCentre | str, archive: CentralArchive | str, organisation: str,
                 version: ApplicationVersion, context: JobContext | None = None,
                 database: HeroesDatabase | str | None = None) -> ImageRef:
    """The image of ``version`` (an application of ``organisation``, its owner) on ``centre``,
    verified; the :class:`ImageRef` a job's spec names.

    ``context``: the job it is for (the transfer is recorded for its owner, job key and run;
    else for the owning organisation); ``database``: where transfers are recorded (None: not
    recorded).
    """
    site = load_centre(centre).site()
    requester = None if context is None else Requester(
        organisation=context.organisation, user=context.user, project=context.project,
        job_key=context.key, flow_run_id=context.flow_run_id)
    log = None if database is None else TransferLog(load_database(database).database())
    done = ImageCache(site).ensure_version(load_archive(archive).endpoint(), organisation, version,
                                           requester=requester, log=log)
    logger = get_run_logger()
    label = f"{version.name} {version.version} ({version.digest})"
    if done.hit:
        logger.info("Image of %s is cached on %s at %s, digest checked", label, site.name, done.image.path)
    else:
        logger.info("Copied the image of %s to %s (%d bytes), verified, at %s%s", label, site.name,
                    done.bytes_transferred, done.image.path,
                    " (a damaged cached copy was replaced)" if done.replaced_corrupt else "")
    if done.evicted:
        logger.info("Evicted %d least recently used image(s) from %s: %s", len(done.evicted),
                    site.name, ", ".join(done.evicted))
    return done.image


__all__ = ["ensure_image"]
