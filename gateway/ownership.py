"""Whose a flow run is: the tags the gateway writes on every run it creates, and reads back.

Prefect has no notion of tenant, but every flow run has tags, every run listing can be
filtered by them, and only the creator sets them (the gateway refuses any later change).
So the gateway tags each run it launches with its organisation, user and project, strips
any such tag a caller sent, and answers every read with a filter on them. A run created
some other way (by an operator, or a subflow) has no owner tags: only operators see it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from heroes_core.identity import (
    Action,
    Identity,
    Reach,
    Resource,
    ResourceKind,
    authorize,
    require,
    widest_reach,
)

PREFIX: Final = "heroes-"
ORGANISATION_TAG: Final = "heroes-org:"
USER_TAG: Final = "heroes-user:"
PROJECT_TAG: Final = "heroes-project:"
# A UI user picks the project of a run by adding this tag to it (the gateway checks it).
PROJECT_CHOICE_TAG: Final = "project:"


def owner_tags(identity: Identity, project: str | None) -> list[str]:
    """The tags that record who launched a run."""
    tags = [ORGANISATION_TAG + identity.organisation, USER_TAG + identity.user]
    return [*tags, PROJECT_TAG + project] if project else tags


def caller_tags(tags: Iterable[str]) -> list[str]:
    """A caller's own tags, without any that would claim an owner (those are the gateway's)."""
    return [tag for tag in tags if not tag.startswith(PREFIX) and not tag.startswith(PROJECT_CHOICE_TAG)]


def chosen_project(tags: Iterable[str]) -> str | None:
    """The project a UI user named with a ``project:<name>`` tag, if any."""
    return next((tag.removeprefix(PROJECT_CHOICE_TAG) for tag in tags if tag.startswith(PROJECT_CHOICE_TAG)),
                None)


def tag_value(tags: Iterable[str], prefix: str) -> str | None:
    """The value of the first tag with ``prefix`` (an owner tag's organisation, user or project)."""
    return next((tag.removeprefix(prefix) for tag in tags if tag.startswith(prefix)), None)


def run_resource(run_id: str, tags: Iterable[str]) -> Resource | None:
    """The run as ``authorize`` sees it, or None for a run no gateway launched (no owner)."""
    tags = list(tags)
    organisation, user = tag_value(tags, ORGANISATION_TAG), tag_value(tags, USER_TAG)
    if organisation is None or user is None:
        return None
    try:
        return Resource(kind=ResourceKind.RUN, organisation=organisation, owner=user,
                        project=tag_value(tags, PROJECT_TAG), id=run_id)
    except ValueError:  # a tag no gateway wrote: treat the run as nobody's
        return None


def may(identity: Identity, action: Action, run_id: str, tags: Iterable[str]) -> bool:
    """Whether ``identity`` may do ``action`` on the run with these tags (a run of nobody: never)."""
    resource = run_resource(run_id, tags)
    return resource is not None and authorize(identity, action, resource).allowed


def listing_tags(identity: Identity, action: Action = Action.READ_RUNS) -> list[str]:
    """The tags every run a listing shows must carry.

    The organisation's runs for an organisation-wide reach, the caller's own for ``own``. A
    caller none of whose roles allows ``action`` is refused by the actions table's own words
    (:func:`~heroes_core.identity.require`).
    """
    reach = widest_reach(identity, action)
    if reach is None:
        require(identity, action, Resource(kind=ResourceKind.RUN, organisation=identity.organisation,
                                           owner=identity.user))
        raise AssertionError("require allows only what a role reaches")
    organisation = [ORGANISATION_TAG + identity.organisation]
    if reach in (Reach.ORG, Reach.ANY):
        # Even a reach over every organisation lists only the caller's own here: operators
        # who need all runs use the Prefect API itself.
        return organisation
    # ``own``, and ``project`` (no role lists runs by project today; a tag filter cannot say
    # "in my projects or in none", so it falls back to the caller's own runs).
    return [*organisation, USER_TAG + identity.user]


__all__ = [
    "ORGANISATION_TAG",
    "PROJECT_CHOICE_TAG",
    "PROJECT_TAG",
    "USER_TAG",
    "caller_tags",
    "chosen_project",
    "listing_tags",
    "may",
    "owner_tags",
    "run_resource",
    "tag_value",
]
