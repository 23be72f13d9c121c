"""The pages and the API of sanctions and credit repair: who sees and does
what, the errors of bad input, and constant queries on the lists."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from marketplace.models import Membership, User
from ratings.models import RepairApplication, Sanction
from ratings.services.decisions import conflict_declare
from ratings.services.repair import repair_apply, repair_decide
from tests.marketplace.factories import UserFactory
from tests.ratings.test_cycles import _body
from tests.ratings.test_sanctions import (
    World,
    build_world,
    build_world_for,
    impose,
    member,
    publish_as,
    store,
)

pytestmark = pytest.mark.django_db

Role = Membership.Role
NO_SUCH_ID = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    return build_world(monkeypatch)


def _client(user: User | None = None) -> Client:
    """A browser that asks for English."""
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


def _body_url(world: World) -> str:
    return reverse("credit-body-sanctions", kwargs={"slug": world.body.slug})


def _impose_url(world: World, rating_id: int | None = None) -> str:
    return reverse(
        "credit-sanction-impose",
        kwargs={"slug": world.body.slug, "rating_id": rating_id or world.rating.pk},
    )


def _entity_url(world: World) -> str:
    return reverse("credit-entity-sanctions", kwargs={"slug": world.entity.slug})


def _repairable(sanction: Sanction) -> Sanction:
    Sanction.objects.filter(pk=sanction.pk).update(
        repairable_from=timezone.now() - timedelta(days=1)
    )
    sanction.refresh_from_db()
    return sanction


def _applied(world: World) -> RepairApplication:
    sanction = _repairable(impose(world))
    return repair_apply(
        actor=world.owner,
        sanction=sanction,
        corrective_actions="Rewrote the listings.",
        evidence_links=["https://example.com/evidence"],
    )


# --- The body's console -------------------------------------------------------------


def test_the_console_offers_the_sanctions_the_grades_call_for(world: World) -> None:
    # given
    impose(world, "downrank")
    # when
    response = _client(world.committee).get(_body_url(world))
    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert world.entity.name in page
    assert "Ratings whose grade calls for sanctions" in page
    # The two sanctions not imposed yet are offered with a form each; the
    # imposed one is in force.
    assert page.count('name="reason"') == 2
    assert page.count(f'action="{_impose_url(world)}"') == 2
    assert 'value="dishonesty_list"' in page
    assert 'value="publishing_review"' in page
    assert 'value="downrank"' not in page
    assert "Store downranking" in page
    assert 'for="id_impose_' in page


def test_an_analyst_sees_the_console_without_forms(world: World) -> None:
    response = _client(world.analyst).get(_body_url(world))
    assert response.status_code == 200
    assert 'name="reason"' not in response.content.decode()


def test_the_console_is_closed_to_outsiders(world: World) -> None:
    url = _body_url(world)
    anonymous = _client().get(url)
    assert anonymous.status_code == 302
    assert "login" in anonymous["Location"]
    assert _client(UserFactory.create()).get(url).status_code == 403
    assert _client(member(world.body, Role.MEMBER)).get(url).status_code == 403
    assert _client(world.owner).get(url).status_code == 403
    other_body, _analyst = _body()
    elsewhere = member(other_body, Role.COMMITTEE_MEMBER)
    assert _client(elsewhere).get(url).status_code == 403
    # A publisher's slug is no body's console.
    publisher = reverse("credit-body-sanctions", kwargs={"slug": world.entity.slug})
    assert _client(world.owner).get(publisher).status_code == 404
    missing = reverse("credit-body-sanctions", kwargs={"slug": "no-such-body"})
    assert _client(world.committee).get(missing).status_code == 404


def test_imposing_from_the_console(world: World) -> None:
    # when
    response = _client(world.committee).post(
        _impose_url(world),
        {"kind": "dishonesty_list", "reason": "Listed for fraud.", "ends_on": ""},
    )
    # then
    assert response.status_code == 302
    assert response["Location"] == _body_url(world)
    sanction = Sanction.objects.get()
    assert (sanction.kind, sanction.imposed_by) == ("dishonesty_list", world.committee)
    assert store(world.entity)["dishonesty_listed"] is True


def test_imposing_with_an_end_date(world: World) -> None:
    day = (timezone.localdate() + timedelta(days=20)).isoformat()
    response = _client(world.admin).post(
        _impose_url(world),
        {"kind": "downrank", "reason": "Downranked.", "ends_on": day},
    )
    assert response.status_code == 302
    ends = timezone.localtime(Sanction.objects.get().ends_at)
    assert ends.date().isoformat() == day


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "downrank", "reason": ""}, "This field is required."),
        ({"kind": "suspension", "reason": "x"}, "no such sanction"),
        ({"kind": "store_badge", "reason": "x"}, "Select a valid choice"),
        ({"kind": "downrank", "reason": "x", "ends_on": "soon"}, "valid date"),
        ({"kind": "downrank", "reason": "x", "ends_on": "2001-01-01"}, "future"),
        ({"kind": "downrank", "reason": "x", "ends_on": "9999-12-31"}, "10 years"),
        ({"kind": "downrank", "reason": "x", "ends_on": "2090-06-30"}, "10 years"),
    ],
)
def test_bad_impositions_show_the_error_with_400(
    world: World, data: dict[str, str], message: str
) -> None:
    response = _client(world.committee).post(_impose_url(world), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Sanction.objects.exists()


def test_a_repeated_imposition_answers_409_with_the_reason_shown(
    world: World,
) -> None:
    impose(world, "downrank")
    response = _client(world.committee).post(
        _impose_url(world), {"kind": "downrank", "reason": "Again."}
    )
    assert response.status_code == 409
    assert "imposed on this rating already" in response.content.decode()
    assert Sanction.objects.count() == 1


def test_impositions_are_refused_to_the_partial_and_the_wrong_role(
    world: World,
) -> None:
    data = {"kind": "downrank", "reason": "Downranked."}
    conflict_declare(actor=world.committee, entity=world.entity, reason="Cousin.")
    assert _client(world.committee).post(_impose_url(world), data).status_code == 403
    assert _client(world.analyst).post(_impose_url(world), data).status_code == 403
    assert _client(world.owner).post(_impose_url(world), data).status_code == 403
    anonymous = _client().post(_impose_url(world), data)
    assert anonymous.status_code == 302
    assert _client(world.admin).get(_impose_url(world)).status_code == 405
    assert not Sanction.objects.exists()


def test_a_rating_of_another_body_is_not_found_here(world: World) -> None:
    other = build_world_for(world.entities[1], world)
    response = _client(world.committee).post(
        _impose_url(world, other.rating_id), {"kind": "downrank", "reason": "x"}
    )
    assert response.status_code == 404


def test_deciding_a_repair_from_the_console(world: World) -> None:
    # given
    application = _applied(world)
    page = _client(world.committee).get(_body_url(world)).content.decode()
    assert "Rewrote the listings." in page
    assert "https://example.com/evidence" in page
    url = reverse(
        "credit-repair-decide",
        kwargs={"slug": world.body.slug, "public_id": application.public_id},
    )
    # when: no reason, then a grant
    missing = _client(world.committee).post(url, {"decision": "grant", "reason": ""})
    granted = _client(world.committee).post(
        url, {"decision": "grant", "reason": "Corrected."}
    )
    again = _client(world.committee).post(
        url, {"decision": "refuse", "reason": "Changed my mind."}
    )
    # then
    assert missing.status_code == 400
    assert granted.status_code == 302
    assert again.status_code == 409
    assert "decided already" in again.content.decode()
    application.refresh_from_db()
    assert application.state == RepairApplication.State.GRANTED
    assert Sanction.objects.get().state == Sanction.State.LIFTED
    assert store(world.entity)["store_downranked"] is False


def test_deciding_is_refused_to_the_entity_and_the_conflicted(world: World) -> None:
    application = _applied(world)
    url = reverse(
        "credit-repair-decide",
        kwargs={"slug": world.body.slug, "public_id": application.public_id},
    )
    data = {"decision": "grant", "reason": "Fine."}
    assert _client(world.owner).post(url, data).status_code == 403
    conflict_declare(actor=world.admin, entity=world.entity, reason="Shares.")
    assert _client(world.admin).post(url, data).status_code == 403
    bad = reverse(
        "credit-repair-decide",
        kwargs={
            "slug": world.body.slug,
            "public_id": "00000000-0000-0000-0000-000000000000",
        },
    )
    assert _client(world.committee).post(bad, data).status_code == 404
    application.refresh_from_db()
    assert application.state == RepairApplication.State.PENDING


def _console_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_console_takes_the_same_queries_for_any_number_of_rows(
    world: World, django_assert_num_queries: Any
) -> None:
    # given: one row in each list (in force, past, proposal, repair waiting)
    client = _client(world.committee)
    url = _body_url(world)
    _applied(world)  # a downranking in force with an application
    past = impose(world, "publishing_review")
    Sanction.objects.filter(pk=past.pk).update(state=Sanction.State.EXPIRED)
    few = _console_queries(client, url)
    # when: three of each
    for rating in world.ratings[1:]:
        publish_as(rating, "C")
        rating.refresh_from_db()
        impose(world, "downrank", rating=rating)
        ended = impose(world, "publishing_review", rating=rating)
        Sanction.objects.filter(pk=ended.pk).update(state=Sanction.State.EXPIRED)
    for entity in world.entities[1:]:
        owner = member(entity, Role.OWNER)
        sanction = _repairable(Sanction.objects.get(entity=entity, kind="downrank"))
        repair_apply(actor=owner, sanction=sanction, corrective_actions="Fixed.")
    # then
    with django_assert_num_queries(few):
        response = client.get(url)
    page = response.content.decode()
    assert page.count('class="card mb-3 sanction-proposal"') == 3
    assert page.count('class="card mb-3 repair-application"') == 3


# --- The entity's page --------------------------------------------------------------


def test_the_entity_sees_its_sanctions_and_applies_once_repairable(
    world: World,
) -> None:
    # given: a sanction not yet repairable
    sanction = impose(world, "downrank")
    client = _client(world.owner)
    page = client.get(_entity_url(world)).content.decode()
    assert "Store downranking" in page
    assert "Credit repair may be asked for from" in page
    assert 'name="corrective_actions"' not in page
    # when: it becomes repairable
    _repairable(sanction)
    page = client.get(_entity_url(world)).content.decode()
    assert 'name="corrective_actions"' in page
    url = reverse(
        "credit-repair-apply",
        kwargs={"slug": world.entity.slug, "public_id": sanction.public_id},
    )
    bad = client.post(
        url, {"corrective_actions": "Fixed.", "evidence_links": "http://plain.test"}
    )
    sent = client.post(
        url,
        {
            "corrective_actions": "Fixed the listings.",
            "evidence_links": "https://example.com/a\nhttps://example.com/b\n",
        },
    )
    # then
    assert bad.status_code == 400
    assert "is not an https:// address" in bad.content.decode()
    assert sent.status_code == 302
    application = RepairApplication.objects.get()
    assert application.evidence_links == [
        "https://example.com/a",
        "https://example.com/b",
    ]
    page = client.get(_entity_url(world)).content.decode()
    assert "An application is waiting" in page
    assert 'name="corrective_actions"' not in page
    # and: a second application answers 409
    again = client.post(url, {"corrective_actions": "Again."})
    assert again.status_code == 409
    assert "pending already" in again.content.decode()


def test_applying_too_early_answers_409_naming_the_date(world: World) -> None:
    sanction = impose(world, "downrank")
    url = reverse(
        "credit-repair-apply",
        kwargs={"slug": world.entity.slug, "public_id": sanction.public_id},
    )
    response = _client(world.owner).post(url, {"corrective_actions": "Fixed."})
    assert response.status_code == 409
    assert str(timezone.localtime(sanction.repairable_from).year) in (
        response.content.decode()
    )
    assert not RepairApplication.objects.exists()


def test_the_entity_page_is_for_its_members_and_repair_for_its_managers(
    world: World,
) -> None:
    sanction = _repairable(impose(world))
    url = _entity_url(world)
    plain = member(world.entity, Role.MEMBER)
    assert _client().get(url).status_code == 302
    assert _client(UserFactory.create()).get(url).status_code == 403
    assert _client(world.committee).get(url).status_code == 403
    page = _client(plain).get(url)
    assert page.status_code == 200
    assert 'name="corrective_actions"' not in page.content.decode()
    apply = reverse(
        "credit-repair-apply",
        kwargs={"slug": world.entity.slug, "public_id": sanction.public_id},
    )
    assert _client(plain).post(apply, {"corrective_actions": "x"}).status_code == 403
    # Another entity's sanction is not found under this entity.
    other_owner = member(world.entities[1], Role.OWNER)
    elsewhere = reverse(
        "credit-repair-apply",
        kwargs={"slug": world.entities[1].slug, "public_id": sanction.public_id},
    )
    assert (
        _client(other_owner).post(elsewhere, {"corrective_actions": "x"}).status_code
        == 404
    )
    assert not RepairApplication.objects.exists()


def test_the_entity_page_shows_decisions(world: World) -> None:
    application = _applied(world)
    repair_decide(
        actor=world.admin,
        application=application,
        grant=False,
        reason="Listings still overstate.",
    )
    page = _client(world.owner).get(_entity_url(world)).content.decode()
    assert "Listings still overstate." in page
    assert "Refused" in page
    # A new application may follow the refusal.
    assert 'name="corrective_actions"' in page


# --- The API ------------------------------------------------------------------------


def _api(name: str, **kwargs: Any) -> str:
    return reverse(name, kwargs=kwargs)


def test_api_imposes_and_lists_a_bodys_sanctions(world: World) -> None:
    client = _client(world.committee)
    url = _api("api-credit-sanction-impose", pk=world.rating.pk)
    created = client.post(
        url,
        {"kind": "downrank", "reason": "Downranked."},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["kind"], body["state"], body["grade"], body["entity"]) == (
        "downrank",
        "active",
        "C",
        world.entity.slug,
    )
    repeated = client.post(
        url,
        {"kind": "downrank", "reason": "Again."},
        content_type="application/json",
    )
    assert repeated.status_code == 409
    assert repeated.json()["error"]["code"] == "sanction_exists"
    listed = client.get(_api("api-credit-body-sanctions", slug=world.body.slug))
    assert listed.status_code == 200
    assert [s["public_id"] for s in listed.json()["results"]] == [body["public_id"]]
    expired = client.get(
        _api("api-credit-body-sanctions", slug=world.body.slug), {"state": "expired"}
    )
    assert expired.json()["results"] == []
    wrong = client.get(
        _api("api-credit-body-sanctions", slug=world.body.slug), {"state": "gone"}
    )
    assert wrong.status_code == 400
    assert "state" in wrong.json()["error"]["details"]


@pytest.mark.parametrize(
    ("data", "status", "field"),
    [
        ({"kind": "downrank"}, 400, "reason"),
        ({"kind": "fast_track", "reason": "x"}, 400, "kind"),
        ({"kind": "suspension", "reason": "x"}, 400, "kind"),
        ({"kind": "downrank", "reason": "x", "ends_at": "tomorrow"}, 400, "ends_at"),
        (
            {"kind": "downrank", "reason": "x", "ends_at": "2001-01-01T00:00:00Z"},
            400,
            "ends_at",
        ),
        (
            {"kind": "downrank", "reason": "x", "ends_at": "9999-12-31T00:00:00Z"},
            400,
            "ends_at",
        ),
        ([1, 2], 400, "non_field_errors"),
    ],
)
def test_api_bad_impositions(world: World, data: Any, status: int, field: str) -> None:
    response = _client(world.committee).post(
        _api("api-credit-sanction-impose", pk=world.rating.pk),
        data,
        content_type="application/json",
    )
    assert response.status_code == status
    assert field in response.json()["error"]["details"]
    assert not Sanction.objects.exists()


def test_api_denials(world: World) -> None:
    data = {"kind": "downrank", "reason": "x"}
    url = _api("api-credit-sanction-impose", pk=world.rating.pk)
    assert _client().post(url, data, content_type="application/json").status_code in (
        401,
        403,
    )
    other_body, _analyst = _body()
    elsewhere = member(other_body, Role.COMMITTEE_MEMBER)
    for user in (world.analyst, world.owner, UserFactory.create(), elsewhere):
        response = _client(user).post(url, data, content_type="application/json")
        assert response.status_code == 403
    assert (
        _client(elsewhere)
        .get(_api("api-credit-body-sanctions", slug=world.body.slug))
        .status_code
        == 403
    )
    missing = _api("api-credit-sanction-impose", pk=999999)
    assert (
        _client(world.committee)
        .post(missing, data, content_type="application/json")
        .status_code
        == 404
    )
    listing = _api("api-credit-body-sanctions", slug=world.body.slug)
    assert _client(world.owner).get(listing).status_code == 403
    assert _client().get(listing).status_code in (401, 403)
    not_a_body = _api("api-credit-body-sanctions", slug=world.entity.slug)
    assert _client(world.owner).get(not_a_body).status_code == 404
    entity_list = _api("api-credit-entity-sanctions", slug=world.entity.slug)
    assert _client(world.committee).get(entity_list).status_code == 403
    assert _client().get(entity_list).status_code in (401, 403)
    assert (
        _client(world.owner)
        .get(_api("api-credit-entity-sanctions", slug="nobody"))
        .status_code
        == 404
    )


def test_api_repair_apply_and_decide(world: World) -> None:
    # given
    sanction = impose(world, "dishonesty_list")
    owner = _client(world.owner)
    url = _api("api-credit-repair-apply", public_id=sanction.public_id)
    # when: too early, then repairable with a bad link, then right
    early = owner.post(
        url, {"corrective_actions": "Fixed."}, content_type="application/json"
    )
    _repairable(sanction)
    bad_link = owner.post(
        url,
        {"corrective_actions": "Fixed.", "evidence_links": ["ftp://example.com/x"]},
        content_type="application/json",
    )
    stranger = _client(world.committee).post(
        url, {"corrective_actions": "Fixed."}, content_type="application/json"
    )
    applied = owner.post(
        url,
        {
            "corrective_actions": "Fixed.",
            "evidence_links": ["https://example.com/x"],
        },
        content_type="application/json",
    )
    # then
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "repair_too_early"
    assert bad_link.status_code == 400
    assert "evidence_links" in bad_link.json()["error"]["details"]
    assert stranger.status_code == 403
    assert applied.status_code == 201
    application_id = applied.json()["public_id"]
    # the entity's list shows the application
    listed = owner.get(_api("api-credit-entity-sanctions", slug=world.entity.slug))
    assert listed.status_code == 200
    [row] = listed.json()["results"]
    assert [r["public_id"] for r in row["repairs"]] == [application_id]
    # deciding: the owner may not, a committee member may
    decide = _api("api-credit-repair-decide", public_id=application_id)
    denied = owner.post(
        decide, {"grant": True, "reason": "Mine."}, content_type="application/json"
    )
    invalid = _client(world.committee).post(
        decide, {"grant": "perhaps", "reason": ""}, content_type="application/json"
    )
    granted = _client(world.committee).post(
        decide, {"grant": True, "reason": "Corrected."}, content_type="application/json"
    )
    assert denied.status_code == 403
    assert invalid.status_code == 400
    assert set(invalid.json()["error"]["details"]) == {"grant", "reason"}
    assert granted.status_code == 200
    assert granted.json()["state"] == "granted"
    assert store(world.entity)["dishonesty_listed"] is False
    missing = _api("api-credit-repair-decide", public_id=NO_SUCH_ID)
    assert (
        _client(world.committee)
        .post(missing, {"grant": True, "reason": "x"}, content_type="application/json")
        .status_code
        == 404
    )


def test_api_lists_take_the_same_queries_for_any_page_size(
    world: World, django_assert_num_queries: Any
) -> None:
    for rating in world.ratings[1:]:
        publish_as(rating, "C")
    for rating in world.ratings:
        rating.refresh_from_db()
        impose(world, "downrank", rating=rating)
        impose(world, "dishonesty_list", rating=rating)
    for sanction in Sanction.objects.filter(entity=world.entity):
        _repairable(sanction)
        repair_apply(actor=world.owner, sanction=sanction, corrective_actions="x")
    body_client = _client(world.committee)
    entity_client = _client(world.owner)
    body_url = _api("api-credit-body-sanctions", slug=world.body.slug)
    entity_url = _api("api-credit-entity-sanctions", slug=world.entity.slug)
    body_client.get(body_url)
    entity_client.get(entity_url)

    def queries(client: Client, url: str, size: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, {"page_size": size})
        assert response.status_code == 200
        assert len(response.json()["results"]) == min(size, response.json()["count"])
        return len(captured)

    body_small = queries(body_client, body_url, 1)
    with django_assert_num_queries(body_small):
        body_client.get(body_url, {"page_size": 6})
    entity_small = queries(entity_client, entity_url, 1)
    with django_assert_num_queries(entity_small):
        entity_client.get(entity_url, {"page_size": 2})
