"""The logged-in session: tokens kept in a file only its owner can read, renewed when expired.

The credentials file is ``$XDG_CONFIG_HOME/heroes/credentials.json`` (``~/.config/heroes/...``
by default; ``HEROES_CREDENTIALS`` names another file). It holds a refresh token, which
opens a session without a password, so it is written mode 0600 in a 0700 folder, replaced
atomically, and refused when others can read it (like ssh refuses a readable private key).

Every command that acts for the user builds a :class:`Session`: the realm block named at
login, and the identity the stored access token proves, verified offline by the block's
verifier. Nothing the user types decides who they are.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

import httpx
from pydantic import BaseModel, ValidationError

from heroes.blocks.defaults import DEFAULT_ARCHIVE, DEFAULT_DATABASE, DEFAULT_KEYCLOAK_REALM
from heroes.cli._output import NOT_AUTHENTICATED, exit_with_error
from heroes_core.data.areas import Area
from heroes_core.errors import HeroesError
from heroes_core.identity import Identity, IdentityAdmin, KeycloakSettings, TokenVerifier
from heroes_core.identity import oidc as _oidc
from heroes_core.identity.naming import organisation_name
from heroes_core.identity.provisioning import require_administration
from heroes_core.store import Database

# The KeycloakRealm block `heroes login` uses unless told otherwise (--realm-block, HEROES_REALM_BLOCK).
DEFAULT_REALM_BLOCK: Final = DEFAULT_KEYCLOAK_REALM
REALM_BLOCK_ENV: Final = "HEROES_REALM_BLOCK"
CREDENTIALS_ENV: Final = "HEROES_CREDENTIALS"
# An access token this close to expiry is renewed first, so it does not expire on its way.
RENEW_MARGIN_S: Final = 30.0
_RELOGIN: Final = "run heroes login"


class Realm(Protocol):
    """What the CLI needs of a KeycloakRealm block."""

    def settings(self) -> KeycloakSettings: ...

    def admin(self) -> IdentityAdmin: ...

    def verifier(self) -> TokenVerifier: ...


def load_realm(name: str) -> Realm:
    """The KeycloakRealm block ``name`` from the Prefect server."""
    from heroes.blocks import KeycloakRealm

    try:
        loaded = KeycloakRealm.load(name)
    except ValueError as error:
        exit_with_error(f"No KeycloakRealm block named '{name}' could be loaded ({error}). Create it (see "
                        f"the README, 'The identity provider'), or name another with --realm-block.")
    except httpx.HTTPError as error:
        exit_with_error(f"The Prefect server, where the KeycloakRealm block '{name}' is kept, could not be "
                        f"reached ({type(error).__name__}: {error}). Fix: check PREFECT_API_URL "
                        f"({os.environ.get('PREFECT_API_URL') or 'not set'}) and that the server runs.")
    if not isinstance(loaded, KeycloakRealm):  # Block.load gives a coroutine only in async code
        exit_with_error(f"Block '{name}' is a {type(loaded).__name__}, not a KeycloakRealm.")
    return loaded


class AreaKeeper(Protocol):
    """What the CLI needs of the archive: making organisations' buckets and users' and projects' areas."""

    def ensure_bucket(self, organisation: str) -> str: ...

    def ensure_area(self, area: Area) -> None: ...


def load_archive(name: str = DEFAULT_ARCHIVE) -> AreaKeeper:
    """The archive of the CentralArchive block ``name``, where new organisations, projects and users
    get their areas."""
    from heroes.blocks import CentralArchive

    try:
        loaded = CentralArchive.load(name)
    except ValueError as error:
        exit_with_error(f"No CentralArchive block named '{name}' could be loaded ({error}): the new areas "
                        "were not made. Fix: register the archive (the README, 'The central archive') and"
                        " run the command again.")
    if not isinstance(loaded, CentralArchive):
        exit_with_error(f"Block '{name}' is a {type(loaded).__name__}, not a CentralArchive.")
    return loaded.archive()


def load_database(name: str = DEFAULT_DATABASE) -> Database:
    """The project database of the HeroesDatabase block ``name`` (organisation settings live there)."""
    from heroes.blocks import HeroesDatabase

    try:
        loaded = HeroesDatabase.load(name)
    except ValueError as error:
        exit_with_error(f"No HeroesDatabase block named '{name}' could be loaded ({error}). Fix: register "
                        "the project database (the README, 'The project database'), then run it again.")
    if not isinstance(loaded, HeroesDatabase):
        exit_with_error(f"Block '{name}' is a {type(loaded).__name__}, not a HeroesDatabase.")
    return loaded.database()


class Credentials(BaseModel):
    """What `heroes login` keeps: the realm block, whose issuer it was, and the tokens."""

    realm_block: str
    issuer: str
    access_token: str
    refresh_token: str | None = None
    expires_at: float
    refresh_expires_at: float | None = None

    def with_tokens(self, tokens: _oidc.Tokens) -> Credentials:
        return self.model_copy(update=tokens.model_dump())


def credentials_path() -> Path:
    """Where the credentials are kept."""
    named = os.environ.get(CREDENTIALS_ENV)
    if named:
        return Path(named)
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "heroes" / "credentials.json"


def save(credentials: Credentials) -> Path:
    """Write the credentials, readable by their owner only, replacing any earlier file at once."""
    path = credentials_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # whatever the umask, or an older file's mode
        with os.fdopen(descriptor, "w") as file:
            json.dump(credentials.model_dump(), file, indent=2)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)
    return path


def load() -> Credentials | None:
    """The stored credentials, None if there are none; refused when others may read them."""
    path = credentials_path()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if stat.S_IMODE(mode) & 0o077:
        exit_with_error(f"{path} may be read by other users (mode {stat.S_IMODE(mode):o}): its tokens are "
                        f"not used. Fix: chmod 600 {path}, or delete it and {_RELOGIN}.", NOT_AUTHENTICATED)
    try:
        return Credentials.model_validate_json(path.read_text())
    except (ValidationError, ValueError):
        exit_with_error(f"{path} is not a HEROES credentials file. Fix: delete it and {_RELOGIN}.",
                        NOT_AUTHENTICATED)


def forget() -> bool:
    """Delete the stored credentials; False if there were none."""
    try:
        credentials_path().unlink()
    except FileNotFoundError:
        return False
    return True


@dataclass(frozen=True)
class Session:
    """The logged-in user: their realm block and the identity their token proves."""

    realm: Realm
    credentials: Credentials
    identity: Identity

    def admin(self) -> IdentityAdmin:
        return self.realm.admin()


def renewed(realm: Realm, credentials: Credentials, clock: Callable[[], float] = time.time) -> Credentials:
    """The credentials, with the access token renewed (and stored) if it is about to expire."""
    if credentials.expires_at - RENEW_MARGIN_S > clock():
        return credentials
    if credentials.refresh_token is None or (
            credentials.refresh_expires_at is not None and credentials.refresh_expires_at <= clock()):
        exit_with_error(f"Your session has expired. Fix: {_RELOGIN}.", NOT_AUTHENTICATED)
    try:
        tokens = _oidc.refresh(realm.settings(), credentials.refresh_token, clock)
    except HeroesError as error:
        exit_with_error(f"Your session could not be renewed: {error}", NOT_AUTHENTICATED)
    fresh = credentials.with_tokens(tokens)
    save(fresh)
    return fresh


def current(clock: Callable[[], float] = time.time) -> Session:
    """The session of the stored credentials, or exit 3 saying how to log in."""
    credentials = load()
    if credentials is None:
        exit_with_error(f"You are not logged in. Fix: {_RELOGIN}.", NOT_AUTHENTICATED)
    realm = load_realm(credentials.realm_block)
    if realm.settings().issuer != credentials.issuer:
        exit_with_error(f"You logged in to {credentials.issuer}, but block '{credentials.realm_block}' now "
                        f"names {realm.settings().issuer}. Fix: {_RELOGIN}.", NOT_AUTHENTICATED)
    credentials = renewed(realm, credentials, clock)
    with realm.verifier() as verifier:
        identity = verifier.identity(credentials.access_token)
    return Session(realm=realm, credentials=credentials, identity=identity)


def administered(org: str | None) -> tuple[Session, str]:
    """The session and the organisation (``org``, else the caller's), once the caller may administer
    its users, projects and roles. Checked before Keycloak is asked anything about it."""
    session = current()
    organisation = organisation_name(org or session.identity.organisation)
    require_administration(session.identity, organisation)
    return session, organisation
