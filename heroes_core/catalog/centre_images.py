"""Where each application's image sits on the centres: what the planner reads.

An application here is one immutable image (one sha256 digest) copied to some
centres, each at its own path; a job names the application, and the decision
module only considers the centres the image is on. The catalogue of record (owners,
versions, tags, who may run what) is :class:`heroes_core.catalog.ApplicationCatalogue`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from heroes_core.errors import SpecError
from heroes_core.models import DIGEST_PATTERN, NAME_PATTERN, ImageRef


class Application(BaseModel):
    """One version of an application and where its image is published."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    version: str = "latest"
    digest: str = Field(pattern=DIGEST_PATTERN)
    images: dict[str, str] = Field(description="Centre name -> absolute image path on that centre.")
    licence: str | None = Field(default=None, description="Licence seat each run consumes, if any.")
    price_offering: str | None = Field(
        default=None, description="Price book name of the application's licence fee, if it has one.")

    def image_on(self, site: str) -> ImageRef:
        try:
            return ImageRef(path=self.images[site], digest=self.digest)
        except KeyError:
            raise SpecError(f"application '{self.name}' is not published on '{site}'",
                            fix=f"publish it there, or choose one of: {', '.join(sorted(self.images))}"
                            ) from None


class Catalog(BaseModel):
    """The applications a HEROES installation offers."""

    applications: list[Application] = Field(default_factory=list)

    def get(self, name: str) -> Application:
        for application in self.applications:
            if application.name == name:
                return application
        known = ", ".join(sorted(a.name for a in self.applications)) or "(none)"
        raise SpecError(f"unknown application '{name}'", fix=f"use one of: {known}")
