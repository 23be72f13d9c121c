"""Pages of methodologies and enrolment: the body's console, writing and
publishing a methodology, the public methodology pages, and the entity's
enrolments."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from marketplace.models import Membership, Organization, User
from ratings.models import CreditEvent, Enrolment, Indicator, Methodology, Watch
from ratings.services.methodologies import (
    enrolment_sign,
    methodology_create,
    methodology_new_version,
    methodology_publish,
    methodology_set_content,
)
from ratings.views.methodologies import (
    DEFAULT_BANDS,
    DEFAULT_INDICATORS,
    DEFAULT_MEASURES,
    DEFAULT_OVERRIDES,
)
from tests.marketplace.factories import (
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

Role = Membership.Role


# --- Helpers (also used by test_methodology_api) ----------------------------------


def body_with(role: str = Role.ANALYST, **fields: Any) -> tuple[Organization, User]:
    body = OrganizationFactory.create(kind=Organization.Kind.INDUSTRY_BODY, **fields)
    member = UserFactory.create()
    MembershipFactory.create(user=member, organization=body, role=role)
    return body, member


def member_of(organization: Organization, role: str) -> User:
    user = UserFactory.create()
    MembershipFactory.create(user=user, organization=organization, role=role)
    return user


def draft(
    body: Organization, author: User, *, code: str = "developer-credit", **text: str
) -> Methodology:
    """A draft with the default content."""
    methodology = methodology_create(
        actor=author,
        body=body,
        code=code,
        name_en=text.get("name_en", "Agent developer credit"),
        name_zh=text.get("name_zh", ""),
        text_en=text.get("text_en", "How we rate agent developers."),
        text_zh=text.get("text_zh", ""),
        commitment_en=text.get("commitment_en", "We commit to honest dealing."),
        commitment_zh=text.get("commitment_zh", ""),
    )
    return methodology_set_content(
        actor=author,
        methodology=methodology,
        indicators=DEFAULT_INDICATORS,
        bands=DEFAULT_BANDS,
        overrides=DEFAULT_OVERRIDES,
        measures=DEFAULT_MEASURES,
    )


def published(body: Organization, author: User, **kwargs: Any) -> Methodology:
    return methodology_publish(actor=author, methodology=draft(body, author, **kwargs))


def entity_with(role: str = Role.OWNER) -> tuple[Organization, User]:
    entity = OrganizationFactory.create(kind=Organization.Kind.PUBLISHER)
    return entity, member_of(entity, role)


def content_form(**overrides: Any) -> dict[str, str]:
    """The editor's four boxes with the default content, some replaced (a string
    is sent as typed, anything else as JSON)."""
    content: dict[str, Any] = {
        "indicators": DEFAULT_INDICATORS,
        "bands": DEFAULT_BANDS,
        "overrides": DEFAULT_OVERRIDES,
        "measures": DEFAULT_MEASURES,
        **overrides,
    }
    return {
        name: value if isinstance(value, str) else json.dumps(value)
        for name, value in content.items()
    }


def stored(methodology: Methodology) -> tuple[list[Any], list[Any], int, int]:
    """What the draft holds: its indicators, its bands, and how many rules and
    measures."""
    return (
        list(methodology.indicators.values_list("code", "weight", "source")),
        list(methodology.bands.values_list("grade", "min_score")),
        methodology.overrides.count(),
        methodology.measures.count(),
    )


def _detail_url(methodology: Methodology) -> str:
    return reverse(
        "credit-body-methodology",
        kwargs={"body": methodology.body.slug, "public_id": methodology.public_id},
    )


def _public_url(methodology: Methodology) -> str:
    return reverse(
        "credit-methodology-detail",
        kwargs={
            "body": methodology.body.slug,
            "code": methodology.code,
            "version": methodology.version,
        },
    )


# --- The body's console -----------------------------------------------------------


def test_the_console_sends_a_member_of_one_body_to_it(client: Client) -> None:
    # given
    body, analyst = body_with()
    client.force_login(analyst)

    # when
    response = client.get(reverse("credit-console"))

    # then
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "credit-body-console", kwargs={"body": body.slug}
    )


def test_the_console_lists_the_bodies_of_a_member_of_several(client: Client) -> None:
    # given
    first, user = body_with(name="First body")
    second = OrganizationFactory.create(
        kind=Organization.Kind.INDUSTRY_BODY, name="Second body"
    )
    MembershipFactory.create(user=user, organization=second, role=Role.MEMBER)
    publisher = OrganizationFactory.create(name="A publisher")
    MembershipFactory.create(user=user, organization=publisher, role=Role.OWNER)
    client.force_login(user)

    # when
    response = client.get(reverse("credit-console"))

    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert reverse("credit-body-console", kwargs={"body": first.slug}) in page
    assert reverse("credit-body-console", kwargs={"body": second.slug}) in page
    assert "A publisher" not in page


def test_the_console_asks_to_sign_in_and_tells_a_non_member(client: Client) -> None:
    # when
    anonymous = client.get(reverse("credit-console"))
    client.force_login(UserFactory.create())
    outsider = client.get(reverse("credit-console"))

    # then
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    assert outsider.status_code == 200
    assert "You belong to no industry body" in outsider.content.decode()


def test_the_body_console_shows_drafts_enrolments_and_the_work(
    client: Client,
) -> None:
    # given
    body, analyst = body_with()
    in_force = published(body, analyst, name_en="Developer credit")
    draft(body, analyst, code="platform-credit", name_en="Platform credit")
    for _ in range(2):
        entity, owner = entity_with()
        enrolment_sign(actor=owner, entity=entity, body=body)
    client.force_login(analyst)

    # when
    response = client.get(reverse("credit-body-console", kwargs={"body": body.slug}))

    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert "Draft: Platform credit (platform-credit v1)" in page
    assert '<dd class="col-sm-8 enrolled-count">2' in page
    assert _detail_url(in_force) in page
    assert "2 entities enrolled under it" in page
    assert '<ul class="work">' in page
    assert reverse("credit-body-methodology-new", kwargs={"body": body.slug}) in page


@pytest.mark.parametrize("who", ["outsider", "publisher_owner", "other_body"])
def test_the_body_console_is_for_the_body_s_members_only(
    client: Client, who: str
) -> None:
    # given
    body, _analyst = body_with()
    user = UserFactory.create()
    if who == "publisher_owner":
        MembershipFactory.create(user=user, role=Role.OWNER)
    elif who == "other_body":
        other, _ = body_with()
        MembershipFactory.create(user=user, organization=other, role=Role.OWNER)
    client.force_login(user)

    # when
    responses = [
        client.get(reverse(name, kwargs={"body": body.slug}))
        for name in (
            "credit-body-console",
            "credit-body-methodologies",
            "credit-body-methodology-new",
        )
    ]

    # then
    assert [r.status_code for r in responses] == [403, 403, 403]


def test_an_unknown_body_or_a_publisher_is_not_a_console(client: Client) -> None:
    # given
    publisher, owner = entity_with()
    client.force_login(owner)

    # when
    unknown = client.get(reverse("credit-body-console", kwargs={"body": "nobody"}))
    not_a_body = client.get(
        reverse("credit-body-console", kwargs={"body": publisher.slug})
    )

    # then
    assert unknown.status_code == 404
    assert not_a_body.status_code == 404


def queries_of(client: Client, url: str, *, rows: str, expected: int) -> int:
    """How many SQL queries a GET of ``url`` makes, after checking it shows
    ``expected`` items that start with ``rows``."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    assert response.content.decode().count(rows) == expected
    return len(captured.captured_queries)


def test_the_body_s_methodology_list_has_a_constant_number_of_queries(
    client: Client,
) -> None:
    # given
    body, analyst = body_with()
    client.force_login(analyst)
    url = reverse("credit-body-methodologies", kwargs={"body": body.slug})
    rows = '<tr class="methodology">'
    published(body, analyst, code="code-0")
    few = queries_of(client, url, rows=rows, expected=1)

    # when
    entity, owner = entity_with()
    enrolment_sign(actor=owner, entity=entity, body=body)
    for n in range(1, 6):
        draft(body, analyst, code=f"code-{n}")
    many = queries_of(client, url, rows=rows, expected=6)

    # then
    assert few == many


# --- Writing a methodology --------------------------------------------------------


def test_the_create_form_starts_from_the_default_methodology(client: Client) -> None:
    # given
    body, analyst = body_with()
    client.force_login(analyst)

    # when
    response = client.get(
        reverse("credit-body-methodology-new", kwargs={"body": body.slug})
    )

    # then
    page = response.content.decode()
    form = response.context["form"]
    assert response.status_code == 200
    assert json.loads(form.initial["indicators"]) == DEFAULT_INDICATORS
    assert json.loads(form.initial["measures"]) == DEFAULT_MEASURES
    assert "penalty_decay" in page
    assert "How to write the content: field reference and example" in page
    assert form.initial["commitment_en"].startswith("We commit")


def test_the_default_methodology_is_created_and_publishes(client: Client) -> None:
    # given
    body, analyst = body_with()
    client.force_login(analyst)
    form = client.get(
        reverse("credit-body-methodology-new", kwargs={"body": body.slug})
    ).context["form"]
    data = {
        # What the page shows in each field.
        **{name: form[name].value() or "" for name in form.fields},
        "code": "developer-credit",
        "name_en": "Agent developer credit",
    }

    # when
    created = client.post(
        reverse("credit-body-methodology-new", kwargs={"body": body.slug}), data
    )
    methodology = Methodology.objects.get(body=body)
    publish = client.post(
        reverse(
            "credit-body-methodology-publish",
            kwargs={"body": body.slug, "public_id": methodology.public_id},
        )
    )

    # then
    assert created.status_code == 302
    assert created["Location"] == _detail_url(methodology)
    assert methodology.indicators.count() == len(DEFAULT_INDICATORS)
    assert methodology.bands.count() == len(DEFAULT_BANDS)
    assert methodology.measures.count() == len(DEFAULT_MEASURES)
    assert methodology.commitment_zh.startswith("我们承诺")
    assert publish.status_code == 302
    methodology.refresh_from_db()
    assert methodology.state == Methodology.State.PUBLISHED


def test_a_create_form_with_bad_content_creates_nothing(client: Client) -> None:
    # given
    body, analyst = body_with()
    client.force_login(analyst)
    data = {
        "code": "developer-credit",
        "name_en": "Credit",
        "text_en": "Text.",
        "commitment_en": "Commitment.",
        "coverage_threshold": "0.6",
        "validity_days": "365",
        "objection_days": "5",
        "evidence_days": "10",
        **content_form(
            bands=[{"grade": "Q", "min_score": 0, "definition_en": "Unknown."}]
        ),
    }

    # when
    response = client.post(
        reverse("credit-body-methodology-new", kwargs={"body": body.slug}), data
    )

    # then
    assert response.status_code == 400
    assert response.context["form"].errors["bands"]
    assert not Methodology.objects.filter(body=body).exists()


def test_a_plain_member_of_the_body_reads_but_does_not_write(client: Client) -> None:
    # given
    body, analyst = body_with()
    methodology = draft(body, analyst)
    member = member_of(body, Role.MEMBER)
    client.force_login(member)

    # when
    page = client.get(_detail_url(methodology))
    edit = client.post(_detail_url(methodology), content_form(overrides=[]))
    publish = client.post(
        reverse(
            "credit-body-methodology-publish",
            kwargs={"body": body.slug, "public_id": methodology.public_id},
        )
    )

    # then
    assert page.status_code == 200
    assert "Save the content" not in page.content.decode()
    assert edit.status_code == 403
    assert publish.status_code == 403
    methodology.refresh_from_db()
    assert methodology.state == Methodology.State.DRAFT
    assert methodology.overrides.count() == len(DEFAULT_OVERRIDES)


def test_the_editor_saves_the_draft_s_content(client: Client) -> None:
    # given
    body, analyst = body_with()
    methodology = draft(body, analyst)
    client.force_login(analyst)

    # when
    response = client.post(
        _detail_url(methodology), content_form(overrides=[], measures=[])
    )

    # then
    assert response.status_code == 302
    assert stored(methodology)[2:] == (0, 0)
    assert (
        CreditEvent.objects.filter(
            methodology=methodology, action="methodology_content_set"
        ).count()
        == 2
    )


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"indicators": '[{"code": "x",'}, "indicators", "This is not valid JSON"),
        ({"bands": '{"grade": "A"}'}, "bands", "Give a JSON list"),
        ({"overrides": "[1, 2]"}, "overrides", "Item 1 is not an object"),
        (
            {"indicators": [{**DEFAULT_INDICATORS[0], "weight": "heavy"}]},
            "indicators",
            "Indicator 1 needs a weight above 0",
        ),
        (
            {"indicators": [{**DEFAULT_INDICATORS[0], "source": "horoscope"}]},
            "indicators",
            "a known source",
        ),
        (
            {"indicators": [{**DEFAULT_INDICATORS[0], "params": {"minor": 5}}]},
            "indicators",
            "parameters that do not fit",
        ),
        (
            {"bands": [{**b, "min_score": 10} for b in DEFAULT_BANDS[-2:]]},
            "bands",
            "Grades must differ",
        ),
        (
            {"measures": [{"grade": "AAA", "kind": "public_flogging"}]},
            "measures",
            "a known measure",
        ),
        (
            {"measures": [{"grade": "D", "kind": "downrank", "duration_days": 0}]},
            "measures",
            "a number of days",
        ),
    ],
)
def test_bad_content_is_shown_next_to_its_box_and_changes_nothing(
    client: Client, overrides: dict[str, Any], field: str, message: str
) -> None:
    # given
    body, analyst = body_with()
    methodology = draft(body, analyst)
    before = stored(methodology)
    client.force_login(analyst)

    # when
    response = client.post(_detail_url(methodology), content_form(**overrides))

    # then
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in " ".join(errors[field])
    assert f'id="id_{field}_errors"' in response.content.decode()
    assert stored(methodology) == before


def test_a_draft_that_is_not_whole_shows_why_it_does_not_publish(
    client: Client,
) -> None:
    # given
    body, analyst = body_with()
    methodology = draft(body, analyst)
    methodology_set_content(
        actor=analyst,
        methodology=methodology,
        indicators=DEFAULT_INDICATORS[:2],
        bands=DEFAULT_BANDS,
    )
    client.force_login(analyst)

    # when
    response = client.post(
        reverse(
            "credit-body-methodology-publish",
            kwargs={"body": body.slug, "public_id": methodology.public_id},
        )
    )

    # then
    assert response.status_code == 400
    assert "they must add up to 100" in " ".join(
        response.context["form"].errors["indicators"]
    )
    methodology.refresh_from_db()
    assert methodology.state == Methodology.State.DRAFT


def test_a_published_methodology_is_not_edited_but_gets_a_new_version(
    client: Client,
) -> None:
    # given
    body, analyst = body_with()
    methodology = published(body, analyst)
    before = stored(methodology)
    client.force_login(analyst)

    # when
    page = client.get(_detail_url(methodology))
    edit = client.post(_detail_url(methodology), content_form(overrides=[]))
    new = client.post(
        reverse(
            "credit-body-methodology-new-version",
            kwargs={"body": body.slug, "public_id": methodology.public_id},
        )
    )

    # then
    assert "Save the content" not in page.content.decode()
    assert "Start a new version" in page.content.decode()
    assert edit.status_code == 409
    assert "A published methodology never changes" in edit.content.decode()
    assert stored(methodology) == before
    second = Methodology.objects.get(body=body, version=2)
    assert new.status_code == 302
    assert new["Location"] == _detail_url(second)
    assert second.state == Methodology.State.DRAFT
    assert stored(second) == before


def test_a_methodology_of_another_body_is_not_found_in_this_console(
    client: Client,
) -> None:
    # given
    body, analyst = body_with()
    other, other_analyst = body_with()
    theirs = draft(other, other_analyst)
    MembershipFactory.create(user=analyst, organization=other, role=Role.MEMBER)
    client.force_login(analyst)

    # when
    response = client.get(
        reverse(
            "credit-body-methodology",
            kwargs={"body": body.slug, "public_id": theirs.public_id},
        )
    )

    # then
    assert response.status_code == 404


# --- Public pages -----------------------------------------------------------------


def test_the_public_list_shows_published_and_retired_never_drafts(
    client: Client,
) -> None:
    # given
    body, analyst = body_with()
    first = published(body, analyst, name_en="Developer credit")
    second = methodology_publish(
        actor=analyst,
        methodology=methodology_new_version(actor=analyst, methodology=first),
    )
    draft(body, analyst, code="secret-plan", name_en="Secret plan")

    # when
    response = client.get(reverse("credit-methodology-list"))

    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert _public_url(first) in page
    assert _public_url(second) in page
    assert "Retired" in page
    assert "In force" in page
    assert "Secret plan" not in page


def test_the_public_list_has_a_constant_number_of_queries(client: Client) -> None:
    # given
    url = reverse("credit-methodology-list")
    rows = '<tr class="methodology">'
    body, analyst = body_with()
    published(body, analyst, code="code-0")
    few = queries_of(client, url, rows=rows, expected=1)

    # when
    for n in range(1, 5):
        other, author = body_with()
        published(other, author, code=f"code-{n}")
    many = queries_of(client, url, rows=rows, expected=5)

    # then
    assert few == many


def test_the_public_page_shows_indicators_scale_rules_and_measures(
    client: Client,
) -> None:
    # given
    body, analyst = body_with()
    methodology = published(body, analyst, text_en="We rate honestly.")

    # when
    response = client.get(_public_url(methodology))

    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert "We rate honestly." in page
    assert page.count('<tr class="indicator">') == len(DEFAULT_INDICATORS)
    assert page.count('<tr class="band">') == len(DEFAULT_BANDS)
    assert "Substantiated misconduct findings" in page
    assert "Decaying penalty" in page
    assert "Lower is better" in page
    assert "Exemplary: a clean record" in page
    assert "On a legal dishonesty list: the grade is D, whatever the score." in page
    assert "Store badge" in page
    assert "credit repair after 365 days" in page
    assert "We commit to honest dealing." in page


def test_the_public_page_speaks_the_reader_s_language() -> None:
    # given
    body, analyst = body_with()
    with_zh = published(body, analyst, name_zh="开发者信用", text_zh="我们诚实地评价。")
    other, other_analyst = body_with()
    without_zh = published(other, other_analyst, text_en="Only in English.")
    chinese = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")

    # when
    zh_page = chinese.get(_public_url(with_zh)).content.decode()
    en_page = Client(HTTP_ACCEPT_LANGUAGE="en").get(_public_url(with_zh))
    fallback = chinese.get(_public_url(without_zh)).content.decode()

    # then
    assert "我们诚实地评价。" in zh_page
    assert "开发者信用" in zh_page
    assert "经查实的失信行为" in zh_page
    assert "诚信记录优良" in zh_page
    assert "How we rate agent developers." in en_page.content.decode()
    assert "Only in English." in fallback


def test_a_draft_s_public_page_is_for_the_body_s_members(client: Client) -> None:
    # given
    body, analyst = body_with()
    methodology = draft(body, analyst)
    url = _public_url(methodology)

    # when
    anonymous = client.get(url)
    client.force_login(UserFactory.create())
    outsider = client.get(url)
    client.force_login(member_of(body, Role.MEMBER))
    member = client.get(url)

    # then
    assert anonymous.status_code == 404
    assert outsider.status_code == 404
    assert member.status_code == 200
    assert "A draft: only the body's members see it" in member.content.decode()


def test_an_unknown_version_is_not_found(client: Client) -> None:
    # given
    body, analyst = body_with()
    methodology = published(body, analyst)

    # when
    response = client.get(
        reverse(
            "credit-methodology-detail",
            kwargs={"body": body.slug, "code": methodology.code, "version": 9},
        )
    )

    # then
    assert response.status_code == 404


def test_the_footer_links_to_the_methodologies(client: Client) -> None:
    # when
    response = client.get(reverse("home"))

    # then
    assert reverse("credit-methodology-list") in response.content.decode()


# --- The entity's console ---------------------------------------------------------


def test_the_entity_console_sends_the_owner_of_one_publisher_to_it(
    client: Client,
) -> None:
    # given
    entity, owner = entity_with()
    plain = OrganizationFactory.create()
    MembershipFactory.create(user=owner, organization=plain, role=Role.MEMBER)
    client.force_login(owner)

    # when
    response = client.get(reverse("credit-entity-index"))

    # then
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "credit-entity-console", kwargs={"entity": entity.slug}
    )


def test_the_entity_console_lists_several_publishers(client: Client) -> None:
    # given
    first, owner = entity_with()
    second = OrganizationFactory.create()
    MembershipFactory.create(user=owner, organization=second, role=Role.ADMIN)
    client.force_login(owner)

    # when
    response = client.get(reverse("credit-entity-index"))

    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert reverse("credit-entity-console", kwargs={"entity": first.slug}) in page
    assert reverse("credit-entity-console", kwargs={"entity": second.slug}) in page


def test_the_entity_console_shows_enrolments_and_open_bodies(client: Client) -> None:
    # given
    entity, owner = entity_with()
    enrolled_body, analyst = body_with(name="Enrolled body")
    published(enrolled_body, analyst)
    enrolment_sign(actor=owner, entity=entity, body=enrolled_body)
    open_body, other_analyst = body_with(name="Open body")
    published(open_body, other_analyst)
    silent_body, silent_analyst = body_with(name="Silent body")
    draft(silent_body, silent_analyst)
    client.force_login(owner)

    # when
    response = client.get(
        reverse("credit-entity-console", kwargs={"entity": entity.slug})
    )

    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('<tr class="enrolment">') == 1
    assert "We commit to honest dealing." in page
    assert f"by {owner.username}" in page
    assert (
        reverse(
            "credit-entity-enrol",
            kwargs={"entity": entity.slug, "body": open_body.slug},
        )
        in page
    )
    assert (
        reverse(
            "credit-entity-enrol",
            kwargs={"entity": entity.slug, "body": enrolled_body.slug},
        )
        not in page
    )
    assert "Silent body" not in page
    assert '<ul class="work">' in page


@pytest.mark.parametrize("who", ["member", "other_owner", "body_analyst"])
def test_the_entity_console_is_for_its_owners_and_administrators(
    client: Client, who: str
) -> None:
    # given
    entity, _owner = entity_with()
    body, analyst = body_with()
    methodology = published(body, analyst)
    enrolment = enrolment_sign(actor=_owner, entity=entity, body=body)
    if who == "member":
        user = member_of(entity, Role.MEMBER)
    elif who == "other_owner":
        _other, user = entity_with()
    else:
        user = analyst
    client.force_login(user)
    kwargs = {"entity": entity.slug}

    # when
    responses = [
        client.get(reverse("credit-entity-console", kwargs=kwargs)),
        client.get(
            reverse("credit-entity-enrol", kwargs={**kwargs, "body": body.slug})
        ),
        client.post(
            reverse("credit-entity-enrol", kwargs={**kwargs, "body": body.slug}),
            {"agree": "on", "methodology": str(methodology.public_id)},
        ),
        client.post(
            reverse("credit-entity-withdraw", kwargs={**kwargs, "pk": enrolment.pk})
        ),
    ]

    # then
    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    enrolment.refresh_from_db()
    assert enrolment.withdrawn_at is None


def test_the_entity_console_asks_to_sign_in_and_knows_no_unknown_entity(
    client: Client,
) -> None:
    # when
    anonymous = client.get(
        reverse("credit-entity-console", kwargs={"entity": "anything"})
    )
    client.force_login(UserFactory.create())
    unknown = client.get(reverse("credit-entity-console", kwargs={"entity": "nobody"}))

    # then
    assert anonymous.status_code == 302
    assert unknown.status_code == 404


def test_signing_shows_the_commitment_and_needs_the_box_ticked(
    client: Client,
) -> None:
    # given
    entity, owner = entity_with()
    body, analyst = body_with()
    methodology = published(
        body,
        analyst,
        commitment_en="We will answer every complaint within ten days.",
    )
    client.force_login(owner)
    url = reverse(
        "credit-entity-enrol", kwargs={"entity": entity.slug, "body": body.slug}
    )

    # when
    page = client.get(url)
    unticked = client.post(url, {"methodology": str(methodology.public_id)})
    signed = client.post(
        url, {"agree": "on", "methodology": str(methodology.public_id)}
    )

    # then
    assert "We will answer every complaint within ten days." in page.content.decode()
    assert 'type="checkbox" name="agree"' in page.content.decode()
    assert unticked.status_code == 400
    assert "Tick the box to sign the commitment." in unticked.content.decode()
    assert signed.status_code == 302
    enrolment = Enrolment.objects.get(entity=entity, body=body)
    assert enrolment.commitment_text == (
        "We will answer every complaint within ten days."
    )
    assert enrolment.signed_by == owner


def test_signing_in_chinese_signs_the_chinese_commitment() -> None:
    # given
    entity, owner = entity_with()
    body, analyst = body_with()
    methodology = published(body, analyst, commitment_zh="我们承诺诚信经营。")
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(owner)
    url = reverse(
        "credit-entity-enrol", kwargs={"entity": entity.slug, "body": body.slug}
    )

    # when
    page = client.get(url)
    client.post(url, {"agree": "on", "methodology": str(methodology.public_id)})

    # then
    assert "我们承诺诚信经营。" in page.content.decode()
    assert Enrolment.objects.get(entity=entity).commitment_text == "我们承诺诚信经营。"


def test_a_commitment_replaced_while_reading_is_not_signed(client: Client) -> None:
    # given
    entity, owner = entity_with()
    body, analyst = body_with()
    first = published(body, analyst)
    methodology_publish(
        actor=analyst,
        methodology=methodology_new_version(actor=analyst, methodology=first),
    )
    client.force_login(owner)

    # when
    response = client.post(
        reverse(
            "credit-entity-enrol", kwargs={"entity": entity.slug, "body": body.slug}
        ),
        {"agree": "on", "methodology": str(first.public_id)},
    )

    # then
    assert response.status_code == 409
    assert "read the commitment below and sign again" in response.content.decode()
    assert not Enrolment.objects.filter(entity=entity).exists()


def test_enrolling_twice_or_without_a_methodology_is_refused(client: Client) -> None:
    # given
    entity, owner = entity_with()
    body, analyst = body_with()
    methodology = published(body, analyst)
    enrolment_sign(actor=owner, entity=entity, body=body)
    silent, _silent_analyst = body_with()
    client.force_login(owner)

    # when
    twice = client.post(
        reverse(
            "credit-entity-enrol", kwargs={"entity": entity.slug, "body": body.slug}
        ),
        {"agree": "on", "methodology": str(methodology.public_id)},
    )
    nothing = client.get(
        reverse(
            "credit-entity-enrol", kwargs={"entity": entity.slug, "body": silent.slug}
        )
    )
    unknown = client.get(
        reverse("credit-entity-enrol", kwargs={"entity": entity.slug, "body": "nobody"})
    )

    # then
    assert twice.status_code == 409
    assert "is enrolled with" in twice.content.decode()
    assert Enrolment.objects.filter(entity=entity).count() == 1
    assert "has no methodology in force" in nothing.content.decode()
    assert unknown.status_code == 404


def test_withdrawing_asks_for_confirmation_then_withdraws(client: Client) -> None:
    # given
    entity, owner = entity_with()
    body, analyst = body_with()
    published(body, analyst)
    enrolment = enrolment_sign(actor=owner, entity=entity, body=body)
    client.force_login(owner)
    url = reverse(
        "credit-entity-withdraw", kwargs={"entity": entity.slug, "pk": enrolment.pk}
    )

    # when
    confirm = client.get(url)
    enrolment.refresh_from_db()
    still_active = enrolment.withdrawn_at is None
    withdrawn = client.post(url, follow=True)

    # then
    assert "Withdraw the enrolment" in confirm.content.decode()
    assert still_active
    enrolment.refresh_from_db()
    assert enrolment.withdrawn_at is not None
    assert enrolment.withdrawn_by == owner
    assert "has withdrawn from the rating of" in withdrawn.content.decode()
    assert '<tr class="enrolment withdrawn">' in withdrawn.content.decode()


def test_withdrawing_on_watch_is_refused_with_the_reason(client: Client) -> None:
    # given
    entity, owner = entity_with()
    body, analyst = body_with()
    published(body, analyst)
    enrolment = enrolment_sign(actor=owner, entity=entity, body=body)
    Watch.objects.create(
        entity=entity,
        body=body,
        reason=Watch.Reason.ANALYST,
        due_at=timezone.now() + timedelta(days=90),
    )
    client.force_login(owner)

    # when
    response = client.post(
        reverse(
            "credit-entity-withdraw",
            kwargs={"entity": entity.slug, "pk": enrolment.pk},
        ),
        follow=True,
    )

    # then
    assert "rating watch" in response.content.decode()
    enrolment.refresh_from_db()
    assert enrolment.withdrawn_at is None


def test_an_enrolment_of_another_entity_is_not_found(client: Client) -> None:
    # given
    entity, owner = entity_with()
    other, other_owner = entity_with()
    body, analyst = body_with()
    published(body, analyst)
    theirs = enrolment_sign(actor=other_owner, entity=other, body=body)
    client.force_login(owner)

    # when
    response = client.post(
        reverse(
            "credit-entity-withdraw", kwargs={"entity": entity.slug, "pk": theirs.pk}
        )
    )

    # then
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.withdrawn_at is None


def test_the_default_indicators_read_sources_with_their_pairing() -> None:
    # given
    from ratings.views.methodologies import SOURCE_PAIRINGS

    # then
    assert sum(int(i["weight"]) for i in DEFAULT_INDICATORS) == 100
    for indicator in DEFAULT_INDICATORS:
        normalisation, direction, _params = SOURCE_PAIRINGS[indicator["source"]]
        assert (indicator["normalisation"], indicator["direction"]) == (
            normalisation,
            direction,
        )
        assert indicator["source"] in Indicator.Source.values


def test_a_retired_version_links_to_the_version_in_force(client: Client) -> None:
    # given
    body, analyst = body_with()
    first = published(body, analyst)
    second = methodology_publish(
        actor=analyst,
        methodology=methodology_new_version(actor=analyst, methodology=first),
    )
    published(body, analyst, code="another-code")

    # when
    response = client.get(_public_url(first))

    # then
    page = response.content.decode()
    assert "Retired: ratings made under it refer to it." in page
    assert f'<a href="{_public_url(second)}">Version 2 is in force.</a>' in page


@pytest.mark.parametrize("page", ["abc", "999", "-1", "1" * 40])
def test_a_bad_page_number_shows_a_page_not_an_error(client: Client, page: str) -> None:
    # given
    body, analyst = body_with()
    published(body, analyst)

    # when
    response = client.get(reverse("credit-methodology-list"), {"page": page})

    # then
    assert response.status_code == 200
    assert response.content.decode().count('<tr class="methodology">') == 1


def test_publishing_is_a_post(client: Client) -> None:
    # given
    body, analyst = body_with()
    methodology = draft(body, analyst)
    client.force_login(analyst)

    # when
    response = client.get(
        reverse(
            "credit-body-methodology-publish",
            kwargs={"body": body.slug, "public_id": methodology.public_id},
        )
    )

    # then
    assert response.status_code == 405
    methodology.refresh_from_db()
    assert methodology.state == Methodology.State.DRAFT


def test_every_console_page_asks_an_anonymous_visitor_to_sign_in(
    client: Client,
) -> None:
    # given
    body, analyst = body_with()
    methodology = published(body, analyst)
    entity, owner = entity_with()
    enrolment = enrolment_sign(actor=owner, entity=entity, body=body)
    at_body = {"body": body.slug}
    at_methodology = {**at_body, "public_id": methodology.public_id}
    at_entity = {"entity": entity.slug}
    pages: list[tuple[str, Any]] = [
        ("credit-body-console", at_body),
        ("credit-body-methodologies", at_body),
        ("credit-body-methodology-new", at_body),
        ("credit-body-methodology", at_methodology),
        ("credit-body-methodology-publish", at_methodology),
        ("credit-body-methodology-new-version", at_methodology),
        ("credit-entity-index", {}),
        ("credit-entity-console", at_entity),
        ("credit-entity-enrol", {**at_entity, "body": body.slug}),
        ("credit-entity-withdraw", {**at_entity, "pk": enrolment.pk}),
    ]

    # when
    responses = [client.post(reverse(name, kwargs=kwargs)) for name, kwargs in pages]

    # then
    assert [r.status_code for r in responses] == [302] * len(pages)
    assert all(r["Location"].startswith(reverse("login")) for r in responses)
    assert Methodology.objects.filter(body=body).count() == 1
    enrolment.refresh_from_db()
    assert enrolment.withdrawn_at is None
