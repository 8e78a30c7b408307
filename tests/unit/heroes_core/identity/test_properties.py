"""Properties over any identity and any resource: organisations stay apart, refusals leak nothing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from heroes_core.identity import (
    APPLIES_TO,
    HEROES_ORGANISATION,
    PLATFORM_ROLES,
    Action,
    Identity,
    PermissionDeniedError,
    Resource,
    ResourceKind,
    Role,
    authorize,
    require,
    visible,
)

# The only actions that may ever cross organisations: the platform's own management.
PLATFORM_ACTIONS = {Action.MANAGE_ORGANISATIONS, Action.MANAGE_SERVICE_ACCOUNTS, Action.MANAGE_INFRASTRUCTURE}

organisations = st.sampled_from(["acme", "globex", "initech", "hpc-provider", HEROES_ORGANISATION])
names = st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True).filter(
    lambda name: name not in {"heroes", "billing", "terraform", "projects", "shared", "system"})


@st.composite
def identities(draw: st.DrawFn) -> Identity:
    organisation = draw(organisations)
    allowed = [role for role in Role if organisation == HEROES_ORGANISATION or role not in PLATFORM_ROLES]
    return Identity(subject=draw(names), user=draw(names), organisation=organisation,
                    projects=frozenset(draw(st.lists(names, max_size=3))),
                    roles=frozenset(draw(st.lists(st.sampled_from(allowed), max_size=4))),
                    service_account=draw(st.booleans()))


@st.composite
def resources(draw: st.DrawFn, organisation: st.SearchStrategy[str] = organisations) -> Resource:
    return Resource(kind=draw(st.sampled_from(list(ResourceKind))), organisation=draw(organisation),
                    owner=draw(st.none() | names), project=draw(st.none() | names),
                    id=draw(st.none() | names))


@settings(max_examples=400, deadline=None)
@given(identity=identities(), action=st.sampled_from(list(Action)), resource=resources())
def test_no_one_reaches_another_organisations_resource_but_the_platform_for_its_own_actions(
        identity: Identity, action: Action, resource: Resource) -> None:
    decision = authorize(identity, action, resource)
    if decision.allowed and resource.organisation != identity.organisation:
        assert action in PLATFORM_ACTIONS
        assert identity.organisation == HEROES_ORGANISATION
        assert decision.role in PLATFORM_ROLES
    if decision.allowed and resource.kind is ResourceKind.HOME:
        assert resource.owner == identity.user and resource.organisation == identity.organisation
    if decision.allowed:
        assert resource.kind in APPLIES_TO[action]


@settings(max_examples=300, deadline=None)
@given(identity=identities(), action=st.sampled_from(list(Action)), data=st.data())
def test_a_refusal_reads_the_same_whatever_the_foreign_resource(identity: Identity, action: Action,
                                                                data: st.DataObject) -> None:
    foreign = organisations.filter(lambda name: name != identity.organisation)
    kind = sorted(APPLIES_TO[action])[0]
    first, second = (data.draw(resources(foreign)).model_copy(update={"kind": kind}) for _ in range(2))
    messages = []
    for resource in (first, second):
        try:
            require(identity, action, resource)
        except PermissionDeniedError as error:
            messages.append(str(error))
            for secret in {resource.organisation, resource.id, resource.owner, resource.project} - {
                    None, identity.user, identity.organisation, *identity.projects}:
                assert f"'{secret}'" not in str(error)
    if len(messages) == 2:
        assert messages[0] == messages[1]


@settings(max_examples=200, deadline=None)
@given(identity=identities(), listing=st.lists(resources(), max_size=12))
def test_visible_shows_only_what_some_action_allows(identity: Identity, listing: list[Resource]) -> None:
    shown = visible(identity, listing)
    assert all(any(authorize(identity, action, resource).allowed for action in Action) for resource in shown)
    assert all(resource.organisation == identity.organisation or resource.kind in
               {ResourceKind.ORGANISATION, ResourceKind.SERVICE_ACCOUNT, ResourceKind.INFRASTRUCTURE}
               for resource in shown)
    hidden = [resource for resource in listing if resource not in shown]
    assert not any(authorize(identity, action, resource).allowed for resource in hidden for action in Action)
