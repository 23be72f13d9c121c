"""The site's own documents: drafting and publishing them, accepting them, and the
writes refused until the documents in force are accepted (services and API)."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from marketplace.demo.agreements import load_agreements
from marketplace.exceptions import (
    AgreementsNotAccepted,
    ApplicationError,
    Conflict,
    PermissionDenied,
    PublisherAgreementNotAccepted,
)
from marketplace.models import (
    AgentVersion,
    AgreementAcceptance,
    AgreementVersion,
    Install,
    Membership,
    Organization,
    Review,
    ReviewFlag,
    ReviewReply,
    User,
)
from marketplace.selectors.agreements import (
    agreement_acceptance_list,
    agreement_in_force_map,
    agreement_pending_list,
)
from marketplace.services.accounts import user_create
from marketplace.services.agreements import (
    agreement_draft_create,
    agreement_draft_update,
    agreement_publish,
    agreements_accept,
    agreements_ensure_accepted,
    publisher_agreement_accept,
)
from marketplace.services.installs import install_consent
from marketplace.services.publishing import version_submit
from marketplace.services.reviews import review_flag, review_reply, review_submit
from ratings.models import MisconductReport
from ratings.services import report_submit
from tests.marketplace.factories import (
    AgentVersionFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.marketplace.test_installs import install, listed_agent

pytestmark = pytest.mark.django_db

Kind = AgreementVersion.Kind
USER_KINDS = [Kind.PLATFORM_RULES, Kind.USER_AGREEMENT, Kind.PRIVACY_POLICY]


def operator() -> User:
    return UserFactory.create(is_staff=True)


def texts(**overrides: str) -> dict[str, str]:
    fields = {
        "title_en": "Privacy policy",
        "title_zh": "隐私政策",
        "body_en": "We keep little.",
        "body_zh": "我们保存很少的信息。",
        "summary_en": "",
        "summary_zh": "",
    }
    fields.update(overrides)
    return fields


def publish(kind: str, by: User | None = None, **overrides: str) -> AgreementVersion:
    """A new version of ``kind`` in force (with a summary of changes after the
    first)."""
    actor = by or operator()
    if AgreementVersion.objects.filter(kind=kind).exists():
        overrides.setdefault("summary_en", "Logs are kept for 14 days.")
        overrides.setdefault("summary_zh", "日志保存 14 天。")
    draft = agreement_draft_create(actor=actor, kind=kind, **texts(**overrides))
    return agreement_publish(actor=actor, version=draft)


def documents_in_force() -> list[AgreementVersion]:
    actor = operator()
    return [publish(kind, by=actor) for kind in USER_KINDS]


def accepted_user(**fields: Any) -> User:
    """A user who accepted every user document in force."""
    user = UserFactory.create(**fields)
    agreements_accept(
        user=user, version_ids=[v.pk for v in agreement_pending_list(user=user)]
    )
    return user


def report(user: User, publisher: Organization) -> MisconductReport:
    return report_submit(
        reporter=user,
        publisher=publisher,
        category=MisconductReport.Category.FALSE_ADVERTISING,
        description="It claims a certificate it does not hold.",
    )


# --- Nothing in force ---------------------------------------------------------------


def test_with_no_document_published_nothing_is_asked() -> None:
    # given a fresh install: a draft only
    agreement_draft_create(actor=operator(), kind=Kind.PRIVACY_POLICY, **texts())
    user = UserFactory.create()
    # when / then
    assert agreement_pending_list(user=user) == []
    agreements_ensure_accepted(user=user)
    assert install(user, listed_agent()).install.pk


# --- The must-hold: a new version stops writes until it is accepted -----------------


def test_a_user_who_has_not_accepted_a_new_version_cannot_write_until_accepting() -> (
    None
):
    # given a user who accepted version 1 of every document, and installed an agent
    documents_in_force()
    user = accepted_user()
    agent = listed_agent()
    other = listed_agent()
    installed = install(user, agent).install
    review_submit(user=user, agent=agent, stars=4, title="Good", body="Works.")
    # when the operator publishes version 2 of the privacy policy
    second = publish(Kind.PRIVACY_POLICY)
    # then review, install, consent and report are refused, with the reason
    with pytest.raises(AgreementsNotAccepted) as refused:
        review_submit(user=user, agent=agent, stars=2, title="Meh", body="Slower.")
    assert refused.value.code == "agreements_not_accepted"
    assert refused.value.status_code == 403
    assert "Privacy policy" in refused.value.message
    assert reverse("agreements-accept") in refused.value.message
    with pytest.raises(AgreementsNotAccepted):
        install(user, other)
    with pytest.raises(AgreementsNotAccepted):
        install_consent(actor=user, install=installed, granted_scopes=["contacts.read"])
    with pytest.raises(AgreementsNotAccepted):
        report(user, agent.publisher)
    assert Review.objects.get(user=user).stars == 4
    assert not Install.objects.filter(user=user, agent=other).exists()
    assert not MisconductReport.objects.exists()
    assert agreement_pending_list(user=user) == [second]

    # when they accept it
    agreements_accept(user=user, version_ids=[second.pk])

    # then every write works again
    assert (
        review_submit(
            user=user, agent=agent, stars=2, title="Meh", body="Slower."
        ).stars
        == 2
    )
    assert install(user, other).install.agent == other
    assert report(user, agent.publisher).reporter == user
    # and the history shows both versions of the privacy policy
    privacy = [
        acceptance.version.number
        for acceptance in agreement_acceptance_list(user=user)
        if acceptance.version.kind == Kind.PRIVACY_POLICY
    ]
    assert sorted(privacy) == [1, 2]


def test_the_first_publication_of_a_document_asks_existing_users() -> None:
    # given a user from before any document existed
    user = UserFactory.create()
    agent = listed_agent()
    # when
    rules = publish(Kind.PLATFORM_RULES)
    # then
    with pytest.raises(AgreementsNotAccepted):
        install(user, agent)
    agreements_accept(user=user, version_ids=[rules.pk])
    install(user, agent)


# --- Drafting and publishing --------------------------------------------------------


def test_drafts_are_numbered_per_kind_and_only_published_ones_are_in_force() -> None:
    # given
    actor = operator()
    first = publish(Kind.PLATFORM_RULES, by=actor)
    # when
    draft = agreement_draft_create(
        actor=actor, kind=Kind.PLATFORM_RULES, **texts(summary_en="x", summary_zh="y")
    )
    privacy = agreement_draft_create(actor=actor, kind=Kind.PRIVACY_POLICY, **texts())
    # then
    assert (first.number, draft.number, privacy.number) == (1, 2, 1)
    assert agreement_in_force_map() == {Kind.PLATFORM_RULES: first}


def test_a_second_draft_of_the_same_document_is_refused() -> None:
    actor = operator()
    agreement_draft_create(actor=actor, kind=Kind.PRIVACY_POLICY, **texts())
    with pytest.raises(Conflict):
        agreement_draft_create(actor=actor, kind=Kind.PRIVACY_POLICY, **texts())


def test_a_version_after_the_first_needs_a_summary_in_both_languages() -> None:
    # given
    actor = operator()
    publish(Kind.PRIVACY_POLICY, by=actor)
    draft = agreement_draft_create(
        actor=actor, kind=Kind.PRIVACY_POLICY, **texts(summary_en="Shorter logs.")
    )
    # when / then
    with pytest.raises(ApplicationError) as refused:
        agreement_publish(actor=actor, version=draft)
    assert refused.value.code == "summary_missing"
    assert set(refused.value.details) == {"summary_zh"}
    draft.refresh_from_db()
    assert draft.published_at is None
    agreement_draft_update(
        actor=actor,
        version=draft,
        **texts(summary_en="Shorter logs.", summary_zh="日志更短。"),
    )
    assert agreement_publish(actor=actor, version=draft).is_published


def test_a_published_version_never_changes() -> None:
    actor = operator()
    version = publish(Kind.PLATFORM_RULES, by=actor)
    with pytest.raises(Conflict):
        agreement_draft_update(actor=actor, version=version, **texts(body_en="New"))
    with pytest.raises(Conflict):
        agreement_publish(actor=actor, version=version)
    version.refresh_from_db()
    assert version.body_en == "We keep little."


def test_both_languages_are_required_and_kinds_are_checked() -> None:
    actor = operator()
    with pytest.raises(ApplicationError) as refused:
        agreement_draft_create(
            actor=actor, kind=Kind.PRIVACY_POLICY, **texts(body_zh="  ")
        )
    assert set(refused.value.details) == {"body_zh"}
    with pytest.raises(ApplicationError) as unknown:
        agreement_draft_create(actor=actor, kind="cookie_policy", **texts())
    assert set(unknown.value.details) == {"kind"}


def test_only_the_operator_drafts_and_publishes() -> None:
    # given
    outsider = UserFactory.create()
    publisher_owner = MembershipFactory.create(role=Membership.Role.OWNER).user
    reviewer = MembershipFactory.create(
        organization__kind=Organization.Kind.OPERATOR, role=Membership.Role.REVIEWER
    ).user
    draft = agreement_draft_create(
        actor=operator(), kind=Kind.PLATFORM_RULES, **texts()
    )
    # when / then: the operator's reviewers review listings, not the terms
    for actor in (outsider, publisher_owner, reviewer):
        with pytest.raises(PermissionDenied):
            agreement_draft_create(actor=actor, kind=Kind.USER_AGREEMENT, **texts())
        with pytest.raises(PermissionDenied):
            agreement_draft_update(actor=actor, version=draft, **texts())
        with pytest.raises(PermissionDenied):
            agreement_publish(actor=actor, version=draft)
    draft.refresh_from_db()
    assert draft.published_at is None


def test_the_operators_owners_and_administrators_write_the_documents() -> None:
    for role in (Membership.Role.OWNER, Membership.Role.ADMIN):
        # given
        AgreementVersion.objects.all().delete()
        actor = MembershipFactory.create(
            organization__kind=Organization.Kind.OPERATOR, role=role
        ).user
        # when
        draft = agreement_draft_create(actor=actor, kind=Kind.PLATFORM_RULES, **texts())
        agreement_draft_update(
            actor=actor, version=draft, **texts(body_en="Fewer words.")
        )
        published = agreement_publish(actor=actor, version=draft)
        # then
        assert published.is_published
        assert published.body_en == "Fewer words."


# --- Accepting ---------------------------------------------------------------------


def test_accepting_is_idempotent_and_takes_only_versions_in_force() -> None:
    # given
    actor = operator()
    first = publish(Kind.PRIVACY_POLICY, by=actor)
    second = publish(Kind.PRIVACY_POLICY, by=actor)
    draft = agreement_draft_create(actor=actor, kind=Kind.PLATFORM_RULES, **texts())
    publisher_agreement = publish(Kind.PUBLISHER_AGREEMENT, by=actor)
    user = UserFactory.create()
    # when / then
    for stale in (first, draft, publisher_agreement):
        with pytest.raises(ApplicationError) as refused:
            agreements_accept(user=user, version_ids=[second.pk, stale.pk])
        assert refused.value.code == "agreement_not_in_force"
        assert refused.value.status_code == 400
    with pytest.raises(ApplicationError):
        agreements_accept(user=user, version_ids=[])
    agreements_accept(user=user, version_ids=[second.pk])
    agreements_accept(user=user, version_ids=[second.pk])
    assert AgreementAcceptance.objects.filter(user=user).count() == 1


def test_the_versions_in_force_are_cached_until_one_is_published(
    django_assert_num_queries: Any,
) -> None:
    # given
    actor = operator()
    first = publish(Kind.PRIVACY_POLICY, by=actor)
    assert agreement_in_force_map() == {Kind.PRIVACY_POLICY: first}
    # when warm: no query
    with django_assert_num_queries(0):
        agreement_in_force_map()
    # when a new version is published
    second = publish(Kind.PRIVACY_POLICY, by=actor)
    # then
    assert agreement_in_force_map() == {Kind.PRIVACY_POLICY: second}


def test_sign_up_records_the_acceptance_of_the_documents_in_force() -> None:
    # given
    versions = documents_in_force()
    # when
    user = user_create(
        username="newcomer",
        email="newcomer@example.com",
        password="a-long-enough-passphrase",
        accept_agreements=True,
        agreement_version_ids=[v.pk for v in versions],
    )
    # then
    acceptances = AgreementAcceptance.objects.filter(user=user)
    assert {a.version_id for a in acceptances} == {v.pk for v in versions}
    assert {a.context for a in acceptances} == {AgreementAcceptance.Context.SIGN_UP}
    assert agreement_pending_list(user=user) == []


def test_sign_up_without_accepting_is_refused_when_documents_are_in_force() -> None:
    # given nothing in force: nothing to accept
    user_create(
        username="early",
        email="early@example.com",
        password="a-long-enough-passphrase",
        accept_agreements=False,
    )
    documents_in_force()
    # when / then
    with pytest.raises(ApplicationError) as refused:
        user_create(
            username="late",
            email="late@example.com",
            password="a-long-enough-passphrase",
            accept_agreements=False,
        )
    assert set(refused.value.details) == {"accept_agreements"}
    assert not User.objects.filter(username="late").exists()


def test_sign_up_accepts_only_the_versions_shown_while_they_are_in_force() -> None:
    # given the form showed version 1 of each document
    shown = documents_in_force()
    # when a newer privacy policy comes in before the form is sent
    publish(Kind.PRIVACY_POLICY)
    with pytest.raises(ApplicationError) as refused:
        user_create(
            username="slow",
            email="slow@example.com",
            password="a-long-enough-passphrase",
            accept_agreements=True,
            agreement_version_ids=[v.pk for v in shown],
        )
    # then nothing is created and the person is asked to read the new one
    assert refused.value.code == "agreements_changed"
    assert refused.value.status_code == 400
    assert set(refused.value.details) == {"accept_agreements"}
    assert not User.objects.filter(username="slow").exists()
    # a subset of the versions in force, or ids of no version, are refused too
    in_force = [v.pk for v in agreement_pending_list(user=UserFactory.create())]
    for ids in (in_force[:2], [*in_force, 999_999], []):
        with pytest.raises(ApplicationError):
            user_create(
                username="partial",
                email="partial@example.com",
                password="a-long-enough-passphrase",
                accept_agreements=True,
                agreement_version_ids=ids,
            )
    assert not User.objects.filter(username="partial").exists()


# --- The publisher agreement --------------------------------------------------------


def _draft_version() -> tuple[AgentVersion, User, User]:
    """A draft version of a listed agent, its publisher's owner and a member."""
    version = AgentVersionFactory.create(state=AgentVersion.State.DRAFT)
    publisher = version.agent.publisher
    owner = MembershipFactory.create(
        organization=publisher, role=Membership.Role.OWNER
    ).user
    member = MembershipFactory.create(
        organization=publisher, role=Membership.Role.MEMBER
    ).user
    return version, owner, member


def test_a_publisher_accepts_the_publisher_agreement_before_its_first_submission() -> (
    None
):
    # given
    version, owner, member = _draft_version()
    publish(Kind.PUBLISHER_AGREEMENT)
    # when / then refused before
    with pytest.raises(PublisherAgreementNotAccepted) as refused:
        version_submit(actor=owner, version=version)
    assert refused.value.code == "publisher_agreement_not_accepted"
    version.refresh_from_db()
    assert version.state == AgentVersion.State.DRAFT
    # a member who does not manage the publisher cannot accept for it
    with pytest.raises(PermissionDenied):
        publisher_agreement_accept(actor=member, organization=version.agent.publisher)
    # the owner accepts (twice: the same acceptance)
    acceptance = publisher_agreement_accept(
        actor=owner, organization=version.agent.publisher
    )
    again = publisher_agreement_accept(
        actor=owner, organization=version.agent.publisher
    )
    assert acceptance.pk == again.pk
    assert acceptance.context == AgreementAcceptance.Context.PUBLISHER
    # then the submission goes through
    submitted = version_submit(actor=owner, version=version)
    assert submitted.state == AgentVersion.State.SUBMITTED


def test_a_new_publisher_agreement_is_accepted_before_the_next_submission() -> None:
    # given a publisher that accepted version 1
    version, owner, _member = _draft_version()
    publish(Kind.PUBLISHER_AGREEMENT)
    publisher_agreement_accept(actor=owner, organization=version.agent.publisher)
    # when
    publish(Kind.PUBLISHER_AGREEMENT)
    # then
    with pytest.raises(PublisherAgreementNotAccepted):
        version_submit(actor=owner, version=version)


def test_only_publishers_accept_the_publisher_agreement() -> None:
    publish(Kind.PUBLISHER_AGREEMENT)
    body = OrganizationFactory.create(kind=Organization.Kind.CERTIFICATION_BODY)
    owner = MembershipFactory.create(organization=body, role=Membership.Role.OWNER).user
    with pytest.raises(ApplicationError) as refused:
        publisher_agreement_accept(actor=owner, organization=body)
    assert refused.value.code == "not_a_publisher"


# --- The API ------------------------------------------------------------------------


def _api(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def test_the_api_lists_the_documents_in_force_to_anyone(client: Client) -> None:
    # given
    versions = documents_in_force()
    agreement_draft_create(
        actor=operator(),
        kind=Kind.PUBLISHER_AGREEMENT,
        **texts(title_en="Secret draft"),
    )
    # when
    response = client.get(reverse("api-agreement-list"))
    # then
    assert response.status_code == 200
    assert [item["id"] for item in response.json()] == [v.pk for v in versions]
    assert "Secret draft" not in response.content.decode()


def test_the_api_refuses_a_review_until_the_new_version_is_accepted() -> None:
    # given
    documents_in_force()
    user = accepted_user()
    agent = listed_agent()
    install(user, agent)
    second = publish(Kind.PRIVACY_POLICY)
    client = _api(user)
    reviews = reverse(
        "api-review-list",
        kwargs={"publisher": agent.publisher.slug, "agent": agent.slug},
    )
    body = {"stars": 5, "title": "Great", "body": "Saves me an hour a day."}
    # when
    refused = client.post(reviews, body, content_type="application/json")
    pending = client.get(reverse("api-agreement-pending")).json()
    # then
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "agreements_not_accepted"
    assert [item["id"] for item in pending] == [second.pk]
    assert pending[0]["summary"] == "Logs are kept for 14 days."

    # when they accept through the API
    accepted = client.post(
        reverse("api-agreement-accept"),
        {"versions": [second.pk]},
        content_type="application/json",
    )
    # then
    assert accepted.status_code == 200
    assert accepted.json()[0]["context"] == AgreementAcceptance.Context.API
    assert client.post(reviews, body, content_type="application/json").status_code in (
        200,
        201,
    )
    history = client.get(reverse("api-agreement-history")).json()["results"]
    privacy = sorted(
        item["number"] for item in history if item["kind"] == Kind.PRIVACY_POLICY
    )
    assert privacy == [1, 2]


def test_the_api_refuses_a_flag_and_a_reply_until_the_new_version_is_accepted() -> None:
    # given a review, a reader and a member of the publisher who accepted version 1
    documents_in_force()
    agent = listed_agent()
    author = accepted_user()
    install(author, agent)
    review = review_submit(
        user=author, agent=agent, stars=4, title="Good", body="Works well."
    )
    reader = accepted_user()
    member = accepted_user()
    MembershipFactory.create(
        organization=agent.publisher, user=member, role=Membership.Role.MEMBER
    )
    publish(Kind.PRIVACY_POLICY)
    # when
    flag = _api(reader).post(
        reverse("api-review-flag", kwargs={"review_id": review.pk}),
        {"reason": ReviewFlag.Reason.values[0]},
        content_type="application/json",
    )
    reply = _api(member).post(
        reverse("api-review-reply", kwargs={"review_id": review.pk}),
        {"body": "Thank you."},
        content_type="application/json",
    )
    # then
    for refused in (flag, reply):
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "agreements_not_accepted"
    assert not ReviewFlag.objects.exists()
    assert not ReviewReply.objects.exists()
    with pytest.raises(AgreementsNotAccepted):
        review_flag(user=reader, review=review, reason=ReviewFlag.Reason.values[0])
    with pytest.raises(AgreementsNotAccepted):
        review_reply(actor=member, review=review, body="Thank you.")


@pytest.mark.parametrize(
    "payload",
    [{"versions": ["one"]}, {"versions": []}, {"versions": "7"}, {}],
)
def test_the_api_refuses_bad_input_to_accept(payload: dict[str, Any]) -> None:
    documents_in_force()
    response = _api(UserFactory.create()).post(
        reverse("api-agreement-accept"), payload, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_the_api_refuses_a_version_not_in_force() -> None:
    first = publish(Kind.PRIVACY_POLICY)
    publish(Kind.PRIVACY_POLICY)
    response = _api(UserFactory.create()).post(
        reverse("api-agreement-accept"),
        {"versions": [first.pk]},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "agreement_not_in_force"


def test_the_api_needs_a_signed_in_user_for_pending_accept_and_history(
    client: Client,
) -> None:
    for name in ("api-agreement-pending", "api-agreement-history"):
        assert client.get(reverse(name)).status_code in (401, 403)
    assert client.post(reverse("api-agreement-accept"), {}).status_code in (401, 403)


def test_the_api_accepts_the_publisher_agreement_for_owners_only() -> None:
    # given
    version, owner, member = _draft_version()
    publish(Kind.PUBLISHER_AGREEMENT)
    slug = version.agent.publisher.slug
    url = reverse("api-publisher-agreement-accept", kwargs={"slug": slug})
    # when
    denied = _api(member).post(url)
    unknown = _api(owner).post(
        reverse("api-publisher-agreement-accept", kwargs={"slug": "nobody"})
    )
    accepted = _api(owner).post(url)
    # then
    assert denied.status_code == 403
    assert unknown.status_code == 404
    assert accepted.status_code == 201
    assert accepted.json()["organization"] == slug
    submit = reverse(
        "api-version-submit",
        kwargs={
            "publisher": slug,
            "agent": version.agent.slug,
            "version": version.version,
        },
    )
    assert _api(owner).post(submit).status_code in (200, 202)


# --- The demo documents -------------------------------------------------------------


def test_the_demo_documents_are_in_force_and_accepted_by_the_demo_accounts() -> None:
    # given demo people and a publisher
    actor = operator()
    owner = MembershipFactory.create(role=Membership.Role.OWNER)
    UserFactory.create_batch(2)
    # and someone else's account and publisher on the same site
    stranger = UserFactory.create(email="stranger@mail.example.org")
    theirs = MembershipFactory.create(user=stranger, role=Membership.Role.OWNER)
    # when
    created = load_agreements(operator=actor)
    again = load_agreements(operator=actor)
    # then version 1 of each document is in force, in both languages
    in_force = agreement_in_force_map()
    assert set(in_force) == set(Kind.values)
    for version in in_force.values():
        assert version.number == 1
        assert version.body_en.count("\n\n") >= 3
        assert version.body_zh.count("\n\n") >= 3
    # a second privacy policy waits as a draft with its summary
    draft = AgreementVersion.objects.get(kind=Kind.PRIVACY_POLICY, number=2)
    assert draft.published_at is None
    assert draft.summary_en
    assert draft.summary_zh
    # the demo's accounts accepted, as the prompt records it, and the demo's
    # publisher accepted the publisher agreement
    for user in User.objects.exclude(pk=stranger.pk):
        assert agreement_pending_list(user=user) == []
    assert set(
        AgreementAcceptance.objects.filter(organization__isnull=True).values_list(
            "context", flat=True
        )
    ) == {AgreementAcceptance.Context.PROMPT}
    # someone else accepts for themselves
    assert len(agreement_pending_list(user=stranger)) == len(USER_KINDS)
    assert not AgreementAcceptance.objects.filter(
        organization=theirs.organization
    ).exists()
    assert AgreementAcceptance.objects.filter(
        organization=owner.organization,
        version=in_force[Kind.PUBLISHER_AGREEMENT],
    ).exists()
    assert created > 0
    assert again == 0


def test_the_demo_accepts_only_its_own_version_one() -> None:
    # given the demo documents, and the operator publishing version 2 of the
    # privacy policy
    actor = operator()
    load_agreements(operator=actor)
    draft = AgreementVersion.objects.get(kind=Kind.PRIVACY_POLICY, number=2)
    agreement_publish(actor=actor, version=draft)
    newcomer = UserFactory.create()
    # when the demo runs again
    load_agreements(operator=actor)
    # then the newcomer is not said to have accepted version 2 (nor version 1,
    # no longer in force): the prompt asks them
    assert [v.pk for v in agreement_pending_list(user=newcomer)] == [draft.pk]
    assert not AgreementAcceptance.objects.filter(version=draft).exists()
