"""Charts for users who only have the Prefect UI: a PNG made with matplotlib, kept in the
organisation's ``_heroes/reports/`` and shown as an image artifact through a presigned URL.

The URL is the only way to the picture and lasts as long as the artifact is useful (a week);
the artifact itself is readable only by the run's organisation (the gateway's rules), so the
chart is no wider than the tables beside it.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_image_artifact
from prefect.cache_policies import NO_CACHE

from heroes.blocks import CentralArchive
from heroes.tasks.resolve import load_archive
from heroes_core.data import Archive, ArchivePath, Area
from heroes_core.decision.metadata import UsageSummary

CHART_LIFETIME = timedelta(days=7)


def usage_chart_png(summary: UsageSummary) -> bytes:
    """Core-hours and energy per day (measured and modelled stacked apart), one PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a worker
    from matplotlib import pyplot

    days = [row["day"] for row in summary.days]
    figure, (hours, energy) = pyplot.subplots(2, 1, figsize=(8, 5), sharex=True)
    try:
        hours.bar(days, [row["core_hours"] for row in summary.days], color="#4477aa")
        hours.set_ylabel("core-hours")
        hours.set_title(f"{summary.organisation}: {summary.since:%Y-%m-%d} to {summary.until:%Y-%m-%d}")
        measured = [row["measured_kj"] for row in summary.days]
        energy.bar(days, measured, color="#228833", label="measured (EAR, Slurm)")
        energy.bar(days, [row["modelled_kj"] for row in summary.days], bottom=measured, color="#ccbb44",
                   label="modelled (declared power)")
        energy.set_ylabel("energy (kJ)")
        energy.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize="small", frameon=False)
        energy.tick_params(axis="x", labelrotation=45)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()
    finally:
        pyplot.close(figure)


@task(name="publish-chart", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def publish_chart(archive: CentralArchive | str, organisation: str, name: str, png: bytes,
                  description: str, key: str) -> str:
    """Keep ``png`` in the organisation's reports and show it as the image artifact ``key``."""
    block = load_archive(archive)
    path = ArchivePath(area=Area.heroes(organisation),
                       path=f"reports/{name}-{datetime.now(UTC):%Y%m%dT%H%M%S}.png")
    client: Any = block.s3_client()
    client.put_object(Bucket=block.ensure_bucket(organisation), Key=path.key, Body=png,
                      ContentType="image/png")
    url = Archive(block.endpoint(), expiry=CHART_LIFETIME).download(path).url
    create_image_artifact(image_url=url, key=key, description=description)
    get_run_logger().info("Chart %s kept at %s", name, path.key)
    return path.key
