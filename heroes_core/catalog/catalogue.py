"""The application catalogue of record, in the project database (module 5).

Application providers register an application (its owners and parameter schema), add
versions (each one immutable image in the archive, named by its sha256 digest), move
tags between them, and publish a version once its functional test has passed for that
exact digest. Users see, and may run, the versions published to them; the owning
organisation may run all of its own, tested or not (it runs the functional test).

Each write is one transaction that first locks the application's row, so two writers to
one application queue instead of interleaving (SQLite's ``BEGIN IMMEDIATE`` queues all
writers anyway), and the unique constraints stay a last guard. Nothing is ever partly
registered, added or published.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from heroes_core.catalog.command import check_command
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
from heroes_core.catalog.parameters import check_parameter_schema, ensure_json, validate_parameters
from heroes_core.catalog.schema import (
    CatalogueApplication,
    CatalogueEvent,
    CataloguePublication,
    CatalogueTag,
    CatalogueVersion,
)
from heroes_core.errors import SpecError
from heroes_core.models import DIGEST_PATTERN, NAME_PATTERN, ORGANISATION_PATTERN, safe_relative_path
from heroes_core.store import Database

MAX_ARCHIVE_KEY = 1024
MAX_PRICE_OFFERING = 200
_ACTOR = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")
_PRICE_OFFERING = re.compile(rf"^[^\x00-\x1f\x7f]{{1,{MAX_PRICE_OFFERING}}}$")
_LOADED = (selectinload(CatalogueApplication.versions).selectinload(CatalogueVersion.tags),
           selectinload(CatalogueApplication.versions).selectinload(CatalogueVersion.publications))


class ApplicationCatalogue:
    """Applications, their versions, tags, functional tests and publications."""

    def __init__(self, database: Database) -> None:
        self.database = database

    # -- writes -----------------------------------------------------------------------------

    def register(self, name: str, *, organisation: str, owner: str, parameter_schema: Mapping[str, Any],
                 description: str = "", metadata: Mapping[str, Any] | None = None,
                 command: Sequence[str] = (), at: datetime | None = None) -> RegisteredApplication:
        """Add an application owned by ``organisation`` (its packager's or provider's) and ``owner``.

        The parameter schema is checked here, so a broken one never reaches a user; so is the
        command a run of it starts (its ``{parameter}`` placeholders must name parameters).
        """
        _check(NAME_PATTERN, name, "application name", "use 1-64 letters, digits, '.', '_' or '-', "
                                                       "starting with a letter or digit")
        _check(ORGANISATION_PATTERN, organisation, "organisation",
               "use 3-40 lower-case letters, digits and '-' (no leading or trailing '-')")
        _check(NAME_PATTERN, owner, "owner", "give the owner's HEROES user name")
        schema = check_parameter_schema(parameter_schema)
        argv = check_command(command, schema)
        details = dict(metadata or {})
        ensure_json(details, f"metadata of '{name}'")
        stamp = at or datetime.now(UTC)
        try:
            with self.database.transaction() as session:
                if session.scalar(select(CatalogueApplication.id).where(CatalogueApplication.name == name)):
                    raise _taken(name)
                row = CatalogueApplication(name=name, organisation=organisation, owner=owner,
                                           description=description, details=details,
                                           parameter_schema=schema, command=argv, registered_at=stamp,
                                           versions=[])
                session.add(row)
                session.flush()
                _event(session, row, None, AuditAction.REGISTER, owner, stamp,
                       {"organisation": organisation, "owner": owner})
                return _application_view(row, row.versions)
        except IntegrityError:  # registered by someone else since the check
            raise _taken(name) from None

    def add_version(self, name: str, version: str, *, digest: str, archive_key: str, size_bytes: int,
                    actor: str, tags: Iterable[str] = (),
                    parameter_schema: Mapping[str, Any] | None = None,
                    at: datetime | None = None) -> ApplicationVersion:
        """Add one image as a new version, and point ``tags`` at it.

        A version is never replaced: a new image is a new version. The same image may not be
        two versions of one application either; tag the existing version instead.
        ``parameter_schema``, if given, replaces the application's for this version.
        """
        _check(VERSION_PATTERN, version, "version", "use 1-64 letters, digits, '.', '-', '_' or '+'")
        _check(DIGEST_PATTERN, digest, "image digest", "give the image's digest as 'sha256:<64 hex digits>'")
        key = safe_relative_path(archive_key)
        if len(key) > MAX_ARCHIVE_KEY:
            raise SpecError(f"archive key is {len(key)} characters long",
                            fix=f"store the image under a key of at most {MAX_ARCHIVE_KEY} characters")
        if isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or size_bytes <= 0:
            raise SpecError(f"image size {size_bytes!r} is not a positive number of bytes",
                            fix="give the size of the image object in the archive, in bytes")
        _check_actor(actor)
        schema = None if parameter_schema is None else check_parameter_schema(
            parameter_schema, f"parameter schema of {name} {version}")
        wanted_tags = list(dict.fromkeys(tags))
        stamp = at or datetime.now(UTC)
        try:
            with self.database.transaction() as session:
                app = _application(session, name, lock=True)
                for existing in app.versions:
                    if existing.version == version:
                        raise SpecError(
                            f"'{name}' already has version '{version}' (image {existing.digest}); "
                            "a version's image is never replaced",
                            fix="a new image is a new version: register it under a new version string")
                    if existing.digest == digest:
                        raise SpecError(
                            f"image {digest} is already version '{existing.version}' of '{name}'",
                            fix=f"use version '{existing.version}', or tag it to give it another name")
                if _tag_row(session, app, version) is not None:
                    raise SpecError(f"'{version}' is a tag of '{name}'; a version may not share a tag's name",
                                    fix="choose another version string, or untag that tag first")
                row = CatalogueVersion(application=app, version=version, digest=digest, archive_key=key,
                                       size_bytes=size_bytes, parameter_schema=schema,
                                       registered_at=stamp, registered_by=actor, tested_digest_ok=False,
                                       tags=[], publications=[])
                session.add(row)
                session.flush()
                _event(session, app, version, AuditAction.ADD_VERSION, actor, stamp,
                       {"digest": digest, "archive_key": key, "size_bytes": size_bytes})
                for tag in wanted_tags:
                    _move_tag(session, app, row, tag, actor, stamp)
                session.flush()
                return _version_view(row)
        except IntegrityError:  # added by someone else since the check (never on a locked row)
            raise SpecError(f"'{name}' changed while version '{version}' was being added",
                            fix="look at its versions (get) and try again") from None

    def tag(self, name: str, version: str, tag: str, *, actor: str,
            at: datetime | None = None) -> ApplicationVersion:
        """Point ``tag`` at ``version`` (exact version string), moving it from where it was."""
        _check_actor(actor)
        stamp = at or datetime.now(UTC)
        with self.database.transaction() as session:
            app = _application(session, name, lock=True)
            row = _exact_version(app, version)
            _move_tag(session, app, row, tag, actor, stamp)
            session.flush()
            return _version_view(row)

    def untag(self, name: str, tag: str, *, actor: str, at: datetime | None = None) -> None:
        """Remove ``tag`` from the application: runs naming it fail until it is set again."""
        _check_actor(actor)
        stamp = at or datetime.now(UTC)
        with self.database.transaction() as session:
            app = _application(session, name, lock=True)
            row = _tag_row(session, app, tag)
            if row is None:
                raise SpecError(f"'{name}' has no tag '{tag}'", fix=f"use one of: {_tags_of(app)}")
            _event(session, app, row.version.version, AuditAction.UNTAG, actor, stamp, {"tag": tag})
            session.delete(row)

    def record_functional_test(self, name: str, version: str, *, digest: str, passed: bool,
                               flow_run_id: str, actor: str = "functional-test",
                               at: datetime | None = None) -> ApplicationVersion:
        """Record the functional test of ``version`` run by flow run ``flow_run_id``.

        ``digest`` is the image the test actually ran: it must be the version's, so a test
        of some other build can never clear this one for publication. A failed test clears
        the flag again, which withdraws the version from everyone but its owners until a
        later test passes (its publications are kept).
        """
        _check(DIGEST_PATTERN, digest, "image digest", "give the digest of the image the test ran")
        if not _ACTOR.fullmatch(flow_run_id):
            raise SpecError(f"flow run id {flow_run_id!r} is not valid", fix="give the test's flow run id")
        _check_actor(actor)
        stamp = at or datetime.now(UTC)
        with self.database.transaction() as session:
            app = _application(session, name, lock=True)
            row = _exact_version(app, version)
            if row.digest != digest:
                raise SpecError(f"the functional test ran image {digest}, but version '{version}' of "
                                f"'{name}' is image {row.digest}",
                                fix="run the functional test on this version's own image")
            row.tested_digest_ok = passed
            row.tested_at = stamp
            row.tested_flow_run_id = flow_run_id
            _event(session, app, version, AuditAction.FUNCTIONAL_TEST, actor, stamp,
                   {"digest": digest, "passed": passed, "flow_run_id": flow_run_id})
            session.flush()
            return _version_view(row)

    def publish(self, name: str, version: str, targets: Sequence[PublicationTarget], *,
                licence_terms: str, price_offering: str, actor: str, licence_seats: int | None = None,
                at: datetime | None = None) -> ApplicationVersion:
        """Offer ``version`` (a version or a tag: its version now) to ``targets``, all or none.

        Publishing to a target it already has replaces the terms there (the audit keeps the
        old ones). ``price_offering`` names a business model of the costs module's price book;
        ``licence_seats`` (None: unlimited) how many runs one workflow may hold at once.
        """
        targets = list({target.key: target for target in targets}.values())
        if not targets:
            raise SpecError("no publication target given",
                            fix="publish to a project, an organisation, or everyone")
        if not licence_terms.strip():
            raise SpecError("licence terms are empty", fix="give the licence terms users accept")
        if licence_seats is not None and licence_seats < 1:
            raise SpecError(f"licence seats {licence_seats}: a licence that allows no run cannot be used",
                            fix="give at least 1 seat, or none for an unlimited licence")
        if not _PRICE_OFFERING.fullmatch(price_offering):
            raise SpecError(f"price offering {price_offering!r} is not a business model name",
                            fix=f"name the price book's business model (1-{MAX_PRICE_OFFERING} "
                                "characters, no control characters)")
        _check_actor(actor)
        stamp = at or datetime.now(UTC)
        with self.database.transaction() as session:
            app = _application(session, name, lock=True)
            row = _resolve(session, app, version)
            if not row.tested_digest_ok:
                raise SpecError(f"version '{row.version}' of '{name}' (image {row.digest}) has not "
                                "passed its functional test", fix="run the functional test on this "
                                "version first: publication needs a passed test of this exact image")
            current = {pub.target: pub for pub in row.publications}
            for target in targets:
                detail: dict[str, Any] = {"target": target.key, "licence_terms": licence_terms,
                                          "price_offering": price_offering, "licence_seats": licence_seats}
                pub = current.get(target.key)
                if pub is None:
                    row.publications.append(CataloguePublication(
                        target=target.key, scope=target.scope.value, organisation=target.organisation,
                        project=target.project, licence_terms=licence_terms, price_offering=price_offering,
                        licence_seats=licence_seats, published_at=stamp, published_by=actor))
                else:
                    detail["replaced"] = {"licence_terms": pub.licence_terms,
                                          "price_offering": pub.price_offering,
                                          "licence_seats": pub.licence_seats}
                    pub.licence_terms, pub.price_offering = licence_terms, price_offering
                    pub.licence_seats = licence_seats
                    pub.published_at, pub.published_by = stamp, actor
                _event(session, app, row.version, AuditAction.PUBLISH, actor, stamp, detail)
            session.flush()
            return _version_view(row)

    def unpublish(self, name: str, version: str, target: PublicationTarget, *, actor: str,
                  at: datetime | None = None) -> ApplicationVersion:
        """Withdraw ``version`` from one target; its other publications stay."""
        _check_actor(actor)
        stamp = at or datetime.now(UTC)
        with self.database.transaction() as session:
            app = _application(session, name, lock=True)
            row = _resolve(session, app, version)
            pub = next((pub for pub in row.publications if pub.target == target.key), None)
            if pub is None:
                where = ", ".join(p.target for p in row.publications) or "nowhere"
                raise SpecError(f"version '{row.version}' of '{name}' is not published to {target.key}",
                                fix=f"it is published to: {where}")
            row.publications.remove(pub)
            _event(session, app, row.version, AuditAction.UNPUBLISH, actor, stamp,
                   {"target": target.key, "licence_terms": pub.licence_terms,
                    "price_offering": pub.price_offering})
            session.flush()
            return _version_view(row)

    # -- reads ------------------------------------------------------------------------------

    def get(self, name: str, version: str) -> ApplicationVersion:
        """Exactly ``version`` of ``name``, or the version the tag ``version`` points at."""
        with self.database.transaction() as session:
            return _version_view(_resolve(session, _application(session, name), version))

    def application(self, name: str) -> RegisteredApplication:
        """The application with all its versions, tags and publications."""
        with self.database.transaction() as session:
            app = _application(session, name)
            return _application_view(app, app.versions)

    def validate_parameters(self, name: str, version: str, params: object) -> None:
        """Raise :class:`~heroes_core.catalog.parameters.InvalidParametersError` (a
        :class:`SpecError`) naming every parameter of ``params`` the version's schema refuses."""
        with self.database.transaction() as session:
            row = _resolve(session, _application(session, name), version)
            schema = _schema_of(row)
            label = f"{name} {row.version}"
        validate_parameters(schema, params, label)

    def can_run(self, name: str, version: str, organisation: str, project: str | None = None) -> bool:
        """Whether a user of ``organisation`` working in ``project`` may run this version.

        Its owning organisation always may; anyone else once it passed its functional test
        and is published to them. An unknown application or version is simply not runnable:
        the answer says nothing about what exists elsewhere.
        """
        projects = frozenset({project} if project else ())
        with self.database.transaction() as session:
            app = session.scalars(select(CatalogueApplication)
                                  .where(CatalogueApplication.name == name)).first()
            if app is None:
                return False
            row = _find(session, app, version)
            return row is not None and _admits(row, organisation, projects)

    def visible_to(self, organisation: str,
                   projects: Iterable[str] = ()) -> builtins.list[ApplicationVersion]:
        """Every version a user of ``organisation``, member of ``projects``, may run."""
        return [version for app in self.list(organisation, projects) for version in app.versions]

    def audit(self, name: str) -> builtins.list[AuditEntry]:
        """Every change to ``name`` (registration, versions, tags, tests, publications), oldest first."""
        with self.database.transaction() as session:
            app = _application(session, name)
            events = session.scalars(select(CatalogueEvent).where(CatalogueEvent.application_id == app.id)
                                     .order_by(CatalogueEvent.id))
            return [AuditEntry(application=name, version=e.version, action=AuditAction(e.action),
                               actor=e.actor, at=e.at, detail=dict(e.detail)) for e in events]

    def list(self, organisation: str, projects: Iterable[str] = ()) -> builtins.list[RegisteredApplication]:
        """The applications a user of ``organisation``, member of ``projects``, sees, by name.

        Each holds only the versions the user may run and, on another organisation's
        application, only the publications that admit the user: the catalogue never shows
        one organisation which other organisations or projects an application is offered to.
        """
        members = frozenset(projects)
        with self.database.transaction() as session:
            visible = select(CatalogueVersion.id).join(CatalogueVersion.application).where(
                _admitted(organisation, members))
            visible_ids = set(session.scalars(visible))
            apps = session.scalars(
                select(CatalogueApplication).options(*_LOADED)
                .where(or_(CatalogueApplication.organisation == organisation,
                           CatalogueApplication.id.in_(
                               select(CatalogueVersion.application_id).where(CatalogueVersion.id.in_(visible)))))
                .order_by(CatalogueApplication.name))
            return [_application_view(app, [v for v in app.versions if v.id in visible_ids],
                                      viewer=(organisation, members)) for app in apps]


# -- rules --------------------------------------------------------------------------------------


def _admits(row: CatalogueVersion, organisation: str, projects: frozenset[str]) -> bool:
    """The visibility rule on one loaded version; :func:`_admitted` is the same rule in SQL."""
    if row.application.organisation == organisation:
        return True
    return row.tested_digest_ok and any(_target(pub).admits(organisation, projects)
                                        for pub in row.publications)


def _admitted(organisation: str, projects: frozenset[str]) -> ColumnElement[bool]:
    """:func:`_admits` as a condition on versions joined to their application."""
    project_clause: ColumnElement[bool] = (
        and_(CataloguePublication.scope == PublicationScope.PROJECT.value,
             CataloguePublication.organisation == organisation,
             CataloguePublication.project.in_(sorted(projects))) if projects else false())
    published = select(CataloguePublication.version_id).where(or_(
        CataloguePublication.scope == PublicationScope.EVERYONE.value,
        and_(CataloguePublication.scope == PublicationScope.ORGANISATION.value,
             CataloguePublication.organisation == organisation),
        project_clause))
    return or_(CatalogueApplication.organisation == organisation,
               and_(CatalogueVersion.tested_digest_ok.is_(True), CatalogueVersion.id.in_(published)))


def _move_tag(session: Session, app: CatalogueApplication, row: CatalogueVersion, tag: str,
              actor: str, stamp: datetime) -> None:
    _check(VERSION_PATTERN, tag, "tag", "use 1-64 letters, digits, '.', '-', '_' or '+'")
    if any(v.version == tag for v in app.versions):
        raise SpecError(f"'{tag}' is a version of '{app.name}'; a tag may not share a version's name",
                        fix="choose another tag, e.g. 'latest' or 'stable'")
    existing = _tag_row(session, app, tag)
    if existing is not None and existing.version_id == row.id:
        return
    moved_from = existing.version.version if existing is not None else None
    if existing is None:
        session.add(CatalogueTag(application_id=app.id, tag=tag, version=row))
    else:
        existing.version = row
    _event(session, app, row.version, AuditAction.TAG, actor, stamp, {"tag": tag, "from": moved_from})


# -- lookups ------------------------------------------------------------------------------------


def _application(session: Session, name: str, *, lock: bool = False) -> CatalogueApplication:
    query = select(CatalogueApplication).where(CatalogueApplication.name == name)
    app = session.scalars(query.with_for_update() if lock else query).first()
    if app is None:
        known = ", ".join(session.scalars(select(CatalogueApplication.name)
                                          .order_by(CatalogueApplication.name)))
        raise SpecError(f"unknown application '{name}'",
                        fix=f"use one of: {known}" if known else "register it first")
    return app


def _find(session: Session, app: CatalogueApplication, ref: str) -> CatalogueVersion | None:
    for row in app.versions:
        if row.version == ref:
            return row
    tag = _tag_row(session, app, ref)
    return tag.version if tag is not None else None


def _resolve(session: Session, app: CatalogueApplication, ref: str) -> CatalogueVersion:
    row = _find(session, app, ref)
    if row is None:
        versions = ", ".join(v.version for v in app.versions) or "none yet (add one)"
        raise SpecError(f"'{app.name}' has no version or tag '{ref}'",
                        fix=f"use a version ({versions}) or a tag ({_tags_of(app)})")
    return row


def _exact_version(app: CatalogueApplication, version: str) -> CatalogueVersion:
    for row in app.versions:
        if row.version == version:
            return row
    versions = ", ".join(v.version for v in app.versions) or "none yet (add one)"
    raise SpecError(f"'{app.name}' has no version '{version}'", fix=f"use one of: {versions}")


def _tag_row(session: Session, app: CatalogueApplication, tag: str) -> CatalogueTag | None:
    return session.scalars(select(CatalogueTag).where(CatalogueTag.application_id == app.id,
                                                      CatalogueTag.tag == tag)).first()


def _tags_of(app: CatalogueApplication) -> str:
    return ", ".join(sorted(t.tag for v in app.versions for t in v.tags)) or "none"


# -- views --------------------------------------------------------------------------------------


def _target(pub: CataloguePublication) -> PublicationTarget:
    return PublicationTarget(scope=PublicationScope(pub.scope), organisation=pub.organisation,
                             project=pub.project)


def _schema_of(row: CatalogueVersion) -> dict[str, Any]:
    return dict(row.parameter_schema if row.parameter_schema is not None
                else row.application.parameter_schema)


def _version_view(row: CatalogueVersion,
                  viewer: tuple[str, frozenset[str]] | None = None) -> ApplicationVersion:
    publications = [Publication(target=_target(pub), licence_terms=pub.licence_terms,
                                price_offering=pub.price_offering, licence_seats=pub.licence_seats,
                                published_at=pub.published_at, published_by=pub.published_by)
                    for pub in row.publications]
    if viewer is not None and viewer[0] != row.application.organisation:
        publications = [pub for pub in publications if pub.target.admits(*viewer)]
    return ApplicationVersion(
        name=row.application.name, version=row.version, digest=row.digest, archive_key=row.archive_key,
        size_bytes=row.size_bytes, tags=tuple(sorted(t.tag for t in row.tags)),
        parameter_schema=_schema_of(row), registered_at=row.registered_at,
        registered_by=row.registered_by, tested_digest_ok=row.tested_digest_ok, tested_at=row.tested_at,
        tested_flow_run_id=row.tested_flow_run_id, publications=tuple(publications))


def _application_view(app: CatalogueApplication, versions: Iterable[CatalogueVersion],
                      viewer: tuple[str, frozenset[str]] | None = None) -> RegisteredApplication:
    return RegisteredApplication(
        name=app.name, organisation=app.organisation, owner=app.owner, description=app.description,
        metadata=dict(app.details), parameter_schema=dict(app.parameter_schema),
        command=tuple(app.command or ()), registered_at=app.registered_at,
        versions=tuple(_version_view(row, viewer) for row in versions))


# -- checks and audit ---------------------------------------------------------------------------


def _check(pattern: str, value: str, what: str, fix: str) -> None:
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise SpecError(f"{what} {value!r} is not valid", fix=fix)


def _check_actor(actor: str) -> None:
    if not isinstance(actor, str) or not _ACTOR.fullmatch(actor):
        raise SpecError(f"actor {actor!r} is not valid",
                        fix="name who makes the change (1-64 characters, no control characters)")


def _taken(name: str) -> SpecError:
    return SpecError(f"application '{name}' is already registered",
                     fix="choose another name; to add an image to your own application, add a version")


def _event(session: Session, app: CatalogueApplication, version: str | None, action: AuditAction,
           actor: str, stamp: datetime, detail: dict[str, Any]) -> None:
    session.add(CatalogueEvent(application_id=app.id, version=version, action=action.value,
                               actor=actor, at=stamp, detail=detail))


__all__ = ["ApplicationCatalogue"]
