from typing import Any

import pytest

from marketplace.exceptions import (
    InvalidDeclaration,
    InvalidTransition,
    PermissionDenied,
)
from marketplace.models import (
    Agent,
    AgentEvent,
    AgentVersion,
    CheckResult,
    Domain,
    Membership,
    Organization,
    ProhibitedClaim,
)
from marketplace.selectors.agents import version_checks
from marketplace.services import agents as agent_services
from marketplace.services import publishing
from marketplace.tasks import version_run_checks as version_run_checks_task
from tests.marketplace.factories import (
    AgentFactory,
    AgentVersionFactory,
    DomainFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    declaration,
)

pytestmark = pytest.mark.django_db

State = AgentVersion.State
Role = Membership.Role


def _publisher_member(role: str = Role.MEMBER) -> Membership:
    return MembershipFactory.create(role=role)


def _reviewer() -> Membership:
    operator = OrganizationFactory.create(kind=Organization.Kind.OPERATOR)
    return MembershipFactory.create(organization=operator, role=Role.REVIEWER)


def _submit_and_check(version: AgentVersion, actor: Any) -> AgentVersion:
    publishing.version_submit(actor=actor, version=version)
    version_run_checks_task(version_id=version.pk)
    version.refresh_from_db()
    return version


def test_agent_identifier_is_a_did_web_under_the_site_host() -> None:
    agent = AgentFactory.create(publisher__slug="mingde-ai", slug="mail-helper")
    assert agent.identifier == "did:web:testserver:agents:mingde-ai:mail-helper"


def test_a_member_creates_an_agent_and_a_draft_version() -> None:
    member = _publisher_member()
    agent = agent_services.agent_create(
        actor=member.user,
        publisher=member.organization,
        slug="mail-helper",
        name="Mail helper",
        summary="Drafts replies",
        domain=DomainFactory.create(),
    )
    version = agent_services.version_create(
        actor=member.user, agent=agent, version="1.0.0", declaration=declaration()
    )
    assert version.state == State.DRAFT
    assert len(version.declaration_digest) == 64
    assert list(
        AgentEvent.objects.filter(agent=agent).values_list("action", flat=True)
    ) == [
        "version_created",
        "created",
    ]


def test_only_publishers_list_agents_and_only_their_members() -> None:
    outsider = UserFactory.create()
    publisher = OrganizationFactory.create()
    with pytest.raises(PermissionDenied):
        agent_services.agent_create(
            actor=outsider,
            publisher=publisher,
            slug="x-agent",
            name="X",
            summary="x",
            domain=DomainFactory.create(),
        )
    body = MembershipFactory.create(
        role=Role.OWNER, organization__kind=Organization.Kind.INDUSTRY_BODY
    )
    with pytest.raises(PermissionDenied):
        agent_services.agent_create(
            actor=body.user,
            publisher=body.organization,
            slug="x-agent",
            name="X",
            summary="x",
            domain=DomainFactory.create(),
        )
    assert not Agent.objects.exists()


def test_an_invalid_declaration_is_refused_with_the_field_named() -> None:
    member = _publisher_member()
    agent = AgentFactory.create(publisher=member.organization)
    bad = declaration(endpoint="not a url", deployment="moon")
    bad["skills"][0]["id"] = "Has Spaces"
    with pytest.raises(InvalidDeclaration) as error:
        agent_services.version_create(
            actor=member.user, agent=agent, version="1.0.0", declaration=bad
        )
    assert set(error.value.details) == {
        "declaration.endpoint",
        "declaration.deployment",
        "declaration.skills.0.id",
    }
    assert not AgentVersion.objects.exists()


@pytest.mark.parametrize("bad", ["1.0", "v1.0.0", "01.0.0", "1.0.0+build"])
def test_version_numbers_are_semantic(bad: str) -> None:
    member = _publisher_member()
    agent = AgentFactory.create(publisher=member.organization)
    with pytest.raises(Exception, match="semantic version"):
        agent_services.version_create(
            actor=member.user, agent=agent, version=bad, declaration=declaration()
        )


def test_a_clean_submission_passes_every_check_and_goes_to_review(
    django_capture_on_commit_callbacks: Any,
) -> None:
    member = _publisher_member()
    version = AgentVersionFactory.create(agent__publisher=member.organization)
    with django_capture_on_commit_callbacks() as enqueued:
        publishing.version_submit(actor=member.user, version=version)
    assert len(enqueued) == 1  # the checks run in the background
    assert version_run_checks_task(version_id=version.pk) == State.IN_REVIEW
    results = version_checks(version=version)
    assert {r.name for r in results} == set(publishing.CHECKS) | set(
        publishing.VERSION_CHECKS
    )
    assert all(r.passed for r in results)
    # running the task again changes nothing
    assert version_run_checks_task(version_id=version.pk) is None
    assert CheckResult.objects.filter(version=version).count() == len(
        publishing.CHECKS
    ) + len(publishing.VERSION_CHECKS)


@pytest.mark.parametrize(
    ("setup", "check", "words"),
    [
        (
            lambda a, v: Agent.objects.filter(pk=a.pk).update(terms_url=""),
            "privacy_and_terms",
            "terms of service",
        ),
        (
            lambda a, v: AgentVersion.objects.filter(pk=v.pk).update(
                declaration=declaration(endpoint="http://agent.example.com/")
            ),
            "endpoint_https",
            "not an https:// URL",
        ),
        (
            lambda a, v: Domain.objects.filter(pk=a.domain_id).update(risk_tier="high"),
            "filing_number",
            "need a filing number",
        ),
        (
            lambda a, v: Agent.objects.filter(pk=a.pk).update(age_rating="12+"),
            "minors_protection",
            "anti-addiction",
        ),
        (
            lambda a, v: ProhibitedClaim.objects.create(phrase="customer E-MAILS"),
            "prohibited_claims",
            "customer E-MAILS",
        ),
        (
            lambda a, v: AgentVersion.objects.filter(pk=v.pk).update(
                declaration=declaration(
                    permissions=[
                        {
                            "scope": "mail.read",
                            "purpose": "r",
                            "authority": "autonomous",
                        },
                        {
                            "scope": "contacts.read",
                            "purpose": "c",
                            "authority": "autonomous",
                        },
                    ]
                )
            ),
            "permissions_match_skills",
            "mail.send, which is not requested",
        ),
    ],
)
def test_each_failing_check_rejects_with_a_reason(
    setup: Any, check: str, words: str
) -> None:
    member = _publisher_member()
    version = AgentVersionFactory.create(agent__publisher=member.organization)
    setup(version.agent, version)
    version = _submit_and_check(version, member.user)
    assert version.state == State.REJECTED
    failed = {
        r.name: r.reason_text for r in version_checks(version=version) if not r.passed
    }
    assert list(failed) == [check]
    assert words in failed[check]


def test_a_rejected_version_is_resubmitted_once_the_listing_is_fixed() -> None:
    member = _publisher_member()
    version = AgentVersionFactory.create(
        agent__publisher=member.organization, agent__privacy_policy_url=""
    )
    assert _submit_and_check(version, member.user).state == State.REJECTED
    agent_services.agent_update(
        actor=member.user, agent=version.agent, privacy_policy_url="https://x.example/p"
    )
    version = _submit_and_check(version, member.user)
    assert version.state == State.IN_REVIEW
    assert version.submissions == 2
    assert all(r.passed for r in version_checks(version=version))


def test_a_submitted_version_cannot_be_edited() -> None:
    member = _publisher_member()
    version = AgentVersionFactory.create(agent__publisher=member.organization)
    publishing.version_submit(actor=member.user, version=version)
    with pytest.raises(PermissionDenied) as error:
        agent_services.version_update(
            actor=member.user, version=version, declaration=declaration(), changelog="x"
        )
    assert error.value.code == "version_immutable"


def test_a_non_member_cannot_edit_submit_or_yank() -> None:
    version = AgentVersionFactory.create()
    outsider = _publisher_member(Role.OWNER)  # owner of another publisher
    with pytest.raises(PermissionDenied):
        agent_services.agent_update(
            actor=outsider.user, agent=version.agent, name="Mine"
        )
    with pytest.raises(PermissionDenied):
        publishing.version_submit(actor=outsider.user, version=version)
    AgentVersion.objects.filter(pk=version.pk).update(state=State.PUBLISHED)
    version.refresh_from_db()
    with pytest.raises(PermissionDenied):
        publishing.version_yank(actor=outsider.user, version=version, reason="x")
    version.refresh_from_db()
    assert version.state == State.PUBLISHED
    assert version.agent.name != "Mine"


def test_review_publishes_and_records_who() -> None:
    member = _publisher_member()
    version = _submit_and_check(
        AgentVersionFactory.create(agent__publisher=member.organization), member.user
    )
    reviewer = _reviewer()
    version = publishing.version_review(
        actor=reviewer.user, version=version, verdict="approve"
    )
    assert version.state == State.PUBLISHED
    assert version.published_at is not None
    event = AgentEvent.objects.filter(version=version).first()
    assert event is not None
    assert (event.action, event.actor, event.from_state) == (
        "published",
        reviewer.user,
        "in_review",
    )


def test_a_reviewer_cannot_review_their_own_organisations_agent() -> None:
    reviewer = _reviewer()
    publisher_membership = MembershipFactory.create(user=reviewer.user)
    version = _submit_and_check(
        AgentVersionFactory.create(agent__publisher=publisher_membership.organization),
        reviewer.user,
    )
    with pytest.raises(PermissionDenied) as error:
        publishing.version_review(
            actor=reviewer.user, version=version, verdict="approve"
        )
    assert error.value.code == "conflict_of_interest"
    version.refresh_from_db()
    assert version.state == State.IN_REVIEW


def test_only_operator_reviewers_review_and_rejections_need_reasons() -> None:
    member = _publisher_member()
    version = _submit_and_check(
        AgentVersionFactory.create(agent__publisher=member.organization), member.user
    )
    not_reviewer = MembershipFactory.create(
        role=Role.OWNER, organization__kind=Organization.Kind.OPERATOR
    )
    with pytest.raises(PermissionDenied):
        publishing.version_review(
            actor=not_reviewer.user, version=version, verdict="approve"
        )
    reviewer = _reviewer()
    with pytest.raises(Exception, match="reasons"):
        publishing.version_review(
            actor=reviewer.user, version=version, verdict="reject"
        )
    version = publishing.version_review(
        actor=reviewer.user,
        version=version,
        verdict="reject",
        reasons="Misleading name",
    )
    assert version.state == State.REJECTED


def test_a_draft_cannot_be_reviewed_or_yanked() -> None:
    member = _publisher_member(Role.OWNER)
    version = AgentVersionFactory.create(agent__publisher=member.organization)
    with pytest.raises(InvalidTransition):
        publishing.version_review(
            actor=_reviewer().user, version=version, verdict="approve"
        )
    with pytest.raises(InvalidTransition):
        publishing.version_yank(actor=member.user, version=version, reason="x")


def test_owner_yanks_a_published_version() -> None:
    owner = _publisher_member(Role.OWNER)
    version = AgentVersionFactory.create(
        agent__publisher=owner.organization, state=State.PUBLISHED
    )
    version = publishing.version_yank(actor=owner.user, version=version, reason="Bug")
    assert version.state == State.YANKED
    assert AgentEvent.objects.get(version=version).payload == {"reason": "Bug"}


def test_a_quarantined_agent_cannot_be_changed_by_its_publisher() -> None:
    member = _publisher_member()
    agent = AgentFactory.create(
        publisher=member.organization, status=Agent.Status.QUARANTINED
    )
    with pytest.raises(PermissionDenied) as error:
        agent_services.version_create(
            actor=member.user, agent=agent, version="2.0.0", declaration=declaration()
        )
    assert error.value.code == "quarantined"


def test_every_transition_in_the_table_is_reachable_and_nothing_else() -> None:
    # The table is data: check that no state can jump straight to published.
    for source, targets in publishing.TRANSITIONS.items():
        if source != State.IN_REVIEW:
            assert State.PUBLISHED not in targets, source
    assert publishing.TRANSITIONS[State.YANKED] == frozenset()
