from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from marketplace.models import AgentVersion, Notification
from ratings.models import MisconductReport
from ratings.services import report_submit
from ratings.uploads import report_upload_limit
from tests.marketplace.factories import (
    AgentVersionFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.ratings.factories import (
    HTML,
    PNG,
    TEXT,
    MisconductReportFactory,
    operator_reviewer,
    published_agent,
    reporter_of,
)

pytestmark = pytest.mark.django_db

State = MisconductReport.State


def _form_url(agent: Any) -> str:
    return f"{reverse('report-create')}?agent={agent.publisher.slug}/{agent.slug}"


def _form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "category": "false_advertising",
        "description": "It claims to be certified; it is not.",
        "evidence_links": "https://example.com/ad\nhttps://example.com/claim",
    }
    data.update(overrides)
    return data


def test_the_agent_and_publisher_pages_link_to_the_report_form(client: Client) -> None:
    # given
    agent = published_agent()

    # when
    agent_page = client.get(
        reverse("agent-detail", args=[agent.publisher.slug, agent.slug])
    )
    publisher_page = client.get(
        reverse("publisher-detail", args=[agent.publisher.slug])
    )

    # then
    assert _form_url(agent) in agent_page.content.decode()
    assert (
        f"{reverse('report-create')}?publisher={agent.publisher.slug}"
        in publisher_page.content.decode()
    )


def test_a_signed_in_user_reports_an_agent_with_a_screenshot(client: Client) -> None:
    # given
    agent = published_agent()
    user = UserFactory.create()
    client.force_login(user)

    # when
    form = client.get(_form_url(agent))
    response = client.post(
        _form_url(agent),
        _form(attachments=[SimpleUploadedFile("shot.png", PNG, "image/png")]),
    )

    # then
    assert form.status_code == 200
    assert agent.name in form.content.decode()
    report = MisconductReport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("report-detail", args=[report.public_id])
    assert (report.reporter, report.agent, report.publisher) == (
        user,
        agent,
        agent.publisher,
    )
    assert report.evidence_links == [
        "https://example.com/ad",
        "https://example.com/claim",
    ]
    assert report.evidence.get().content_type == "image/png"


def test_a_publisher_is_reported_from_its_profile(client: Client) -> None:
    # given
    publisher = OrganizationFactory.create()
    client.force_login(UserFactory.create())
    url = f"{reverse('report-create')}?publisher={publisher.slug}"

    # when
    response = client.post(url, _form(evidence_links=""))

    # then
    assert response.status_code == 302
    report = MisconductReport.objects.get()
    assert (report.publisher, report.agent) == (publisher, None)


def test_a_disguised_file_is_refused_on_the_form(client: Client) -> None:
    # given
    agent = published_agent()
    client.force_login(UserFactory.create())

    # when
    response = client.post(
        _form_url(agent),
        _form(attachments=[SimpleUploadedFile("shot.png", HTML, "image/png")]),
    )

    # then
    assert response.status_code == 400
    assert "shot.png is not a PNG or JPEG image" in str(
        response.context["form"].errors["attachments"]
    )
    assert not MisconductReport.objects.exists()


def test_bad_links_and_an_empty_description_are_shown_on_their_fields(
    client: Client,
) -> None:
    # given
    agent = published_agent()
    client.force_login(UserFactory.create())

    # when
    missing = client.post(_form_url(agent), _form(description=""))
    bad_link = client.post(_form_url(agent), _form(evidence_links="javascript:x"))

    # then
    assert missing.status_code == 400
    assert "description" in missing.context["form"].errors
    assert bad_link.status_code == 400
    assert bad_link.context["form"].errors["evidence_links"] == [
        "Link 1 is not an http:// or https:// address."
    ]
    assert not MisconductReport.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client: Client) -> None:
    agent = published_agent()
    for response in (
        client.get(_form_url(agent)),
        client.post(_form_url(agent), _form()),
        client.get(reverse("report-list")),
        client.get(reverse("report-queue")),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert not MisconductReport.objects.exists()


def test_an_unconfirmed_user_is_asked_to_confirm_first(client: Client) -> None:
    # given
    agent = published_agent()
    client.force_login(UserFactory.create(email_verified_at=None))

    # when
    form = client.get(_form_url(agent))
    sent = client.post(_form_url(agent), _form())

    # then
    assert form.status_code == 200
    assert "Confirm your e-mail address" in form.content.decode()
    assert "<textarea" not in form.content.decode()
    assert sent.status_code == 403
    assert not MisconductReport.objects.exists()


def test_unknown_or_unpublished_targets_are_not_found(client: Client) -> None:
    # given
    client.force_login(UserFactory.create())
    draft = AgentVersionFactory.create(state=AgentVersion.State.DRAFT).agent
    report = reverse("report-create")

    # when / then
    assert client.get(_form_url(draft)).status_code == 404
    assert client.get(f"{report}?agent=nobody/nothing").status_code == 404
    assert client.get(f"{report}?agent=garbage").status_code == 404
    assert client.get(f"{report}?publisher=nobody").status_code == 404
    body = OrganizationFactory.create(kind="industry_body")
    assert client.get(f"{report}?publisher={body.slug}").status_code == 404
    assert client.get(report).status_code == 200  # a pointer to where to start


def test_my_reports_lists_mine_with_their_status_in_constant_queries(
    client: Client, django_assert_num_queries: Any
) -> None:
    # given
    user = UserFactory.create()
    client.force_login(user)
    MisconductReportFactory.create()  # someone else's
    agent = published_agent()
    counts = []
    for total in (1, 25):
        while MisconductReport.objects.filter(reporter=user).count() < total:
            MisconductReportFactory.create(
                reporter=user, publisher=agent.publisher, agent=agent
            )
        # session, user, count, page, is_reviewer, unread count in the menu
        with django_assert_num_queries(6):
            response = client.get(reverse("report-list"))
        counts.append(len(response.context["page"]))
    # then
    assert counts == [1, 20]
    assert "Submitted" in response.content.decode()


def test_a_report_is_seen_by_its_reporter_and_the_reviewers_only(
    client: Client,
) -> None:
    # given
    report = MisconductReportFactory.create()
    url = reverse("report-detail", args=[report.public_id])

    # when / then
    client.force_login(reporter_of(report))
    mine = client.get(url)
    assert mine.status_code == 200
    assert report.description in mine.content.decode()
    assert "Move the report" not in mine.content.decode()
    client.force_login(UserFactory.create())
    assert client.get(url).status_code == 404
    client.force_login(operator_reviewer())
    reviewed = client.get(url)
    assert reviewed.status_code == 200
    assert "Move the report" in reviewed.content.decode()


def test_evidence_is_served_to_those_who_see_the_report_only(client: Client) -> None:
    # given
    agent = published_agent()
    reporter = UserFactory.create()
    report = report_submit(
        reporter=reporter,
        publisher=agent.publisher,
        agent=agent,
        category="security_problem",
        description="It leaks tokens.",
        files=[SimpleUploadedFile("leak.png", PNG)],
    )
    evidence = report.evidence.get()
    url = reverse("report-evidence", args=[report.public_id, evidence.pk])
    other = MisconductReportFactory.create(reporter=reporter)

    # when / then
    client.force_login(reporter)
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG  # type: ignore[attr-defined]
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("attachment")
    assert (
        client.get(
            reverse("report-evidence", args=[other.public_id, evidence.pk])
        ).status_code
        == 404
    )
    client.force_login(UserFactory.create())
    assert client.get(url).status_code == 404
    client.force_login(operator_reviewer())
    assert client.get(url).status_code == 200


def test_the_queue_is_for_the_operators_reviewers(client: Client) -> None:
    client.force_login(UserFactory.create())
    assert client.get(reverse("report-queue")).status_code == 403


def test_reviewers_triage_and_dismiss_from_the_queue(
    client: Client, django_assert_num_queries: Any
) -> None:
    # given
    reviewer = operator_reviewer()
    client.force_login(reviewer)
    waiting = MisconductReportFactory.create()
    MisconductReportFactory.create(state=State.DISMISSED)
    counts = []
    for total in (1, 25):
        while MisconductReport.objects.filter(state=State.SUBMITTED).count() < total:
            MisconductReportFactory.create()
        # session, user, the reviewer check of the queue and of the moves, count,
        # page, unread count in the menu
        with django_assert_num_queries(7):
            page = client.get(reverse("report-queue"))
        counts.append(len(page.context["rows"]))
    assert counts == [1, 20]

    # when
    url = reverse("report-transition", args=[waiting.public_id])
    triaged = client.post(url, {"to": "triaged", "seen": "submitted", "back": "queue"})
    stale = client.post(url, {"to": "dismissed", "seen": "submitted", "note": "x"})
    no_note = client.post(url, {"to": "dismissed", "seen": "triaged"})
    dismissed = client.post(url, {"to": "dismissed", "seen": "triaged", "note": "No."})

    # then
    assert triaged.status_code == 302
    assert triaged["Location"] == reverse("report-queue")
    assert stale.status_code == 302
    assert no_note.status_code == 302
    assert dismissed["Location"] == reverse("report-detail", args=[waiting.public_id])
    waiting.refresh_from_db()
    assert waiting.state == State.DISMISSED
    assert list(waiting.events.values_list("to_state", "note")) == [
        ("submitted", ""),
        ("triaged", ""),
        ("dismissed", "No."),
    ]


def test_a_reporter_cannot_move_their_own_report(client: Client) -> None:
    # given
    report = MisconductReportFactory.create()
    client.force_login(reporter_of(report))

    # when
    response = client.post(
        reverse("report-transition", args=[report.public_id]),
        {"to": "dismissed", "seen": "submitted", "note": "never mind"},
    )

    # then
    assert response.status_code == 403
    report.refresh_from_db()
    assert report.state == State.SUBMITTED


def test_others_cannot_move_a_report_they_cannot_see(client: Client) -> None:
    report = MisconductReportFactory.create()
    client.force_login(UserFactory.create())
    response = client.post(
        reverse("report-transition", args=[report.public_id]),
        {"to": "triaged", "seen": "submitted"},
    )
    assert response.status_code == 404


# --- Upload limits ------------------------------------------------------------------


def test_a_body_larger_than_a_report_takes_is_refused_with_413(
    client: Client, settings: Any
) -> None:
    # given
    settings.REPORT_EVIDENCE_MAX_BYTES = 1000
    agent = published_agent()
    client.force_login(UserFactory.create())
    huge = PNG + b"\x00" * report_upload_limit()

    # when
    response = client.post(
        _form_url(agent),
        _form(attachments=[SimpleUploadedFile("huge.png", huge, "image/png")]),
    )

    # then
    assert response.status_code == 413
    page = response.content.decode()
    assert "The upload is too large: attach at most 5 files of at most 1000" in page
    assert 'role="alert"' in page
    assert 'name="description"' in page  # the form, to send again
    assert not MisconductReport.objects.exists()


def test_the_size_is_checked_before_the_body_is_read(
    client: Client, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    settings.REPORT_EVIDENCE_MAX_BYTES = 1000
    agent = published_agent()
    client.force_login(UserFactory.create())

    def read_body(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the body was read")

    monkeypatch.setattr(
        "django.http.request.HttpRequest._load_post_and_files", read_body
    )

    # when
    response = client.post(
        _form_url(agent),
        _form(attachments=[SimpleUploadedFile("a.png", b"\x00" * 200_000)]),
    )

    # then
    assert response.status_code == 413


def test_a_file_over_the_limit_is_refused_while_the_others_are_kept_out(
    client: Client, settings: Any
) -> None:
    # given
    settings.REPORT_EVIDENCE_MAX_BYTES = 1000
    agent = published_agent()
    client.force_login(UserFactory.create())

    # when
    response = client.post(
        _form_url(agent),
        _form(
            attachments=[
                SimpleUploadedFile("ok.png", PNG, "image/png"),
                SimpleUploadedFile("big.png", PNG + b"\x00" * 1000, "image/png"),
            ]
        ),
    )

    # then
    assert response.status_code == 400
    assert "big.png is larger than 1000\xa0bytes." in response.content.decode()
    assert response.context["form"].errors["attachments"] == [
        "big.png is larger than 1000\xa0bytes."
    ]
    assert not MisconductReport.objects.exists()


def test_more_files_than_a_report_takes_are_refused(client: Client) -> None:
    # given
    agent = published_agent()
    client.force_login(UserFactory.create())
    files = [SimpleUploadedFile(f"{n}.png", PNG, "image/png") for n in range(6)]

    # when
    response = client.post(_form_url(agent), _form(attachments=files))

    # then
    assert response.status_code == 400
    assert "Attach at most 5 files." in response.content.decode()
    assert not MisconductReport.objects.exists()


def test_the_form_still_checks_the_csrf_token(client: Client) -> None:
    # given
    agent = published_agent()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(UserFactory.create())

    # when
    response = strict.post(_form_url(agent), _form())

    # then
    assert response.status_code == 403
    assert not MisconductReport.objects.exists()


# --- Downloads, conflicts of interest and deleted accounts ----------------------------


def _report_with_file(name: str, content: bytes) -> MisconductReport:
    agent = published_agent()
    return report_submit(
        reporter=UserFactory.create(),
        publisher=agent.publisher,
        agent=agent,
        category="security_problem",
        description="It leaks tokens.",
        files=[SimpleUploadedFile(name, content)],
    )


def test_evidence_is_a_download_the_browser_does_not_run(client: Client) -> None:
    # given
    report = _report_with_file("notes.html", TEXT)
    evidence = report.evidence.get()
    client.force_login(reporter_of(report))

    # when
    response = client.get(
        reverse("report-evidence", args=[report.public_id, evidence.pk])
    )

    # then
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="notes.html.txt"'
    assert response["Content-Type"] == "text/plain"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Cache-Control"] == "private, no-store"


def test_a_reviewer_of_the_reported_publisher_sees_neither_report_nor_evidence(
    client: Client,
) -> None:
    # given
    report = _report_with_file("leak.png", PNG)
    evidence = report.evidence.get()
    reviewer = operator_reviewer()
    MembershipFactory.create(user=reviewer, organization=report.publisher)
    other = MisconductReportFactory.create()
    own = MisconductReportFactory.create(reporter=reviewer)
    client.force_login(reviewer)

    # when
    page = client.get(reverse("report-detail", args=[report.public_id]))
    download = client.get(
        reverse("report-evidence", args=[report.public_id, evidence.pk])
    )
    queue = client.get(reverse("report-queue"))

    # then
    assert page.status_code == 404
    assert download.status_code == 404
    assert [row[0] for row in queue.context["rows"]] == [other]
    # The reporter still sees their report; a reviewer sees their own as its
    # reporter, without the moves.
    mine = client.get(reverse("report-detail", args=[own.public_id]))
    assert mine.status_code == 200
    assert "Move the report" not in mine.content.decode()
    client.force_login(reporter_of(report))
    assert (
        client.get(reverse("report-detail", args=[report.public_id])).status_code == 200
    )


def test_a_report_outlives_its_reporters_account(client: Client) -> None:
    # given
    report = _report_with_file("leak.png", PNG)
    reporter = report.reporter
    assert reporter is not None
    reviewer = operator_reviewer()

    # when
    reporter.delete()

    # then
    report.refresh_from_db()
    assert report.reporter is None
    assert report.evidence.count() == 1
    client.force_login(reviewer)
    page = client.get(reverse("report-detail", args=[report.public_id]))
    queue = client.get(reverse("report-queue"))
    assert "by a deleted account" in page.content.decode()
    assert "by a deleted account" in queue.content.decode()
    moved = client.post(
        reverse("report-transition", args=[report.public_id]),
        {"to": "dismissed", "seen": "submitted", "note": "Not enough to go on."},
    )
    assert moved.status_code == 302
    report.refresh_from_db()
    assert report.state == State.DISMISSED
    assert not Notification.objects.exists()
    # Nobody is its reporter now: a user without a role finds nothing.
    client.force_login(UserFactory.create())
    assert (
        client.get(reverse("report-detail", args=[report.public_id])).status_code == 404
    )
