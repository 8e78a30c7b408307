"""The application catalogue block: applications, their image digests and where they are published."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field

from heroes.blocks._common import DOCS_URL, LOGO_BASE_URL
from heroes_core.catalog import Application, Catalog


class ApplicationCatalog(Block):
    """The containerised applications HEROES can run, and on which centres each is published.

    Application providers publish an image (one sha256 digest) to centres; the
    decision module only places a job on centres where its application is published.
    """

    _block_type_name = "HEROES Application Catalog"
    _block_type_slug = "heroes-application-catalog"
    _logo_url = LOGO_BASE_URL + "catalog.png"  # type: ignore[assignment]
    _documentation_url = DOCS_URL + "#applications"  # type: ignore[assignment]
    _description = "Applications (image digests and where they are published) HEROES can run."
    _code_example = """
    from heroes.blocks import ApplicationCatalog

    catalog = ApplicationCatalog.load("BLOCK_NAME")
    print([app.name for app in catalog.applications])
    """

    applications: list[Application] = Field(
        default_factory=list,
        description="Each application's name, version, sha256 digest and image path per centre.")

    def catalog(self) -> Catalog:
        return Catalog(applications=self.applications)
