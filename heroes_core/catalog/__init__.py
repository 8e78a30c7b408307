"""The application catalogue (module 5): which containerised applications exist, and who may run them.

Two views of it:

- :class:`ApplicationCatalogue`, the catalogue of record in the project database: applications
  with their owners and parameter schema, immutable versions (one archived image each, by
  digest), tags, functional tests, and publications to projects, organisations or everyone
  (``catalogue.py``; tables in ``schema.py``, migration ``0006``).
- :class:`Catalog` of :class:`Application`, where each image sits on the centres: what the
  planner reads, given by the ``ApplicationCatalog`` block (``centre_images.py``).
"""

from heroes_core.catalog.catalogue import ApplicationCatalogue
from heroes_core.catalog.centre_images import Application, Catalog
from heroes_core.catalog.models import (
    VERSION_PATTERN,
    ApplicationVersion,
    AuditAction,
    AuditEntry,
    Publication,
    PublicationScope,
    PublicationTarget,
    RegisteredApplication,
)
from heroes_core.catalog.parameters import InvalidParametersError

__all__ = [
    "VERSION_PATTERN",
    "Application",
    "ApplicationCatalogue",
    "ApplicationVersion",
    "AuditAction",
    "AuditEntry",
    "Catalog",
    "InvalidParametersError",
    "Publication",
    "PublicationScope",
    "PublicationTarget",
    "RegisteredApplication",
]
