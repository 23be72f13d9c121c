from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from marketplace.models import Notification
from ratings.models import MisconductReport
from ratings.uploads import report_upload_limit
from tests.marketplace.factories import (
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.ratings.factories import (
    EXE,
    PNG,
    TEXT,
    MisconductReportFactory,
    operator_reviewer,
    published_agent,
)

pytestmark = pytest.mark.django_db

State = MisconductReport.State
REPORTS = "/api/v1/reports/"


@pytest.fixture
def api() -> APIClient:
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]  # type: ignore[no-any-return]  # JSON is Any


def test_a_report_is_sent_as_json(api: APIClient) -> None:
    # given
    agent = published_agent()
    api.force_authenticate(UserFactory.create())

    # when
    response = api.post(
        REPORTS,
        {
            "agent": f"{agent.publisher.slug}/{agent.slug}",
            "category": "privacy_violation",
            "description": "It uploads my contacts.",
            "evidence_links": ["https://example.com/trace"],
        },
        format="json",
    )

    # then
    assert response.status_code == 201
    body = response.json()
    report = MisconductReport.objects.get()
    assert body["public_id"] == str(report.public_id)
    assert body["agent"] == f"{agent.publisher.slug}/{agent.slug}"
    assert body["publisher"] == agent.publisher.slug
    assert body["state"] == "submitted"
    assert body["body"] is None
    assert body["evidence"] == []
    assert [(e["from_state"], e["to_state"]) for e in body["events"]] == [
        ("", "submitted")
    ]


def test_a_report_is_sent_as_multipart_with_files(api: APIClient) -> None:
    # given
    publisher = OrganizationFactory.create()
    api.force_authenticate(UserFactory.create())

    # when
    response = api.post(
        REPORTS,
        {
            "publisher": publisher.slug,
            "category": "security_problem",
            "description": "Their API leaks keys.",
            "evidence_links": ["https://example.com/1", "https://example.com/2"],
            "files": [
                SimpleUploadedFile("shot.png", PNG, "image/png"),
                SimpleUploadedFile("log.txt", TEXT, "text/plain"),
            ],
        },
        format="multipart",
    )

    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["agent"] is None
    assert body["evidence_links"] == ["https://example.com/1", "https://example.com/2"]
    assert [(e["original_name"], e["content_type"]) for e in body["evidence"]] == [
        ("shot.png", "image/png"),
        ("log.txt", "text/plain"),
    ]
    download = api.get(
        f"{REPORTS}{body['public_id']}/evidence/{body['evidence'][0]['id']}/"
    )
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PNG  # type: ignore[attr-defined]


def test_a_disguised_file_is_refused_with_the_error_format(api: APIClient) -> None:
    # given
    publisher = OrganizationFactory.create()
    api.force_authenticate(UserFactory.create())

    # when
    response = api.post(
        REPORTS,
        {
            "publisher": publisher.slug,
            "category": "other",
            "description": "See the file.",
            "files": [SimpleUploadedFile("photo.png", EXE, "image/png")],
        },
        format="multipart",
    )

    # then
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid_evidence"
    assert "photo.png" in error["details"]["files"][0]
    assert not MisconductReport.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"category": "other", "description": "x"}, "non_field_errors"),
        (
            {
                "publisher": "x-y",
                "agent": "a/b",
                "category": "other",
                "description": "x",
            },
            "non_field_errors",
        ),
        ({"publisher": "nobody", "category": "other", "description": "x"}, "publisher"),
        ({"agent": "no/agent", "category": "other", "description": "x"}, "agent"),
        ({"publisher": "PUB", "category": "rude", "description": "x"}, "category"),
        ({"publisher": "PUB", "category": "other", "description": ""}, "description"),
        (
            {
                "publisher": "PUB",
                "category": "other",
                "description": "x",
                "evidence_links": ["ftp://example.com"],
            },
            "evidence_links",
        ),
        (
            {
                "publisher": "PUB",
                "category": "other",
                "description": "x",
                "evidence_links": "https://example.com",
            },
            "evidence_links",
        ),
    ],
)
def test_bad_reports_are_refused_with_the_field_at_fault(
    api: APIClient, payload: dict[str, Any], field: str
) -> None:
    # given
    publisher = OrganizationFactory.create()
    if payload.get("publisher") == "PUB":
        payload = {**payload, "publisher": publisher.slug}
    api.force_authenticate(UserFactory.create())

    # when
    response = api.post(REPORTS, payload, format="json")

    # then
    assert response.status_code == 400
    assert field in _error(response)["details"]
    assert not MisconductReport.objects.exists()


def test_anonymous_and_unconfirmed_users_cannot_report(api: APIClient) -> None:
    # given
    publisher = OrganizationFactory.create()
    payload = {"publisher": publisher.slug, "category": "other", "description": "x"}

    # when
    anonymous = api.post(REPORTS, payload, format="json")
    api.force_authenticate(UserFactory.create(email_verified_at=None))
    unconfirmed = api.post(REPORTS, payload, format="json")

    # then
    assert anonymous.status_code in (401, 403)
    assert unconfirmed.status_code == 403
    assert _error(unconfirmed)["code"] == "email_not_confirmed"
    assert not MisconductReport.objects.exists()


def test_too_many_reports_answer_429(api: APIClient) -> None:
    # given
    publisher = OrganizationFactory.create()
    api.force_authenticate(UserFactory.create())
    payload = {"publisher": publisher.slug, "category": "other", "description": "x"}
    statuses = [
        api.post(REPORTS, payload, format="json").status_code for _ in range(11)
    ]

    # then
    assert statuses == [201] * 10 + [429]


def test_the_list_is_mine_newest_first_in_constant_queries(
    api: APIClient, django_assert_num_queries: Any
) -> None:
    # given
    user = UserFactory.create()
    api.force_authenticate(user)
    MisconductReportFactory.create()  # someone else's
    agent = published_agent()
    sizes = []
    for total in (1, 25):
        while MisconductReport.objects.filter(reporter=user).count() < total:
            MisconductReportFactory.create(
                reporter=user, publisher=agent.publisher, agent=agent
            )
        # count and page
        with django_assert_num_queries(2):
            response = api.get(REPORTS)
        sizes.append(len(response.json()["results"]))
    # then
    assert sizes == [1, 20]
    body = response.json()
    assert body["count"] == 25
    created = [item["created_at"] for item in body["results"]]
    assert created == sorted(created, reverse=True)
    assert {item["agent"] for item in body["results"]} == {
        f"{agent.publisher.slug}/{agent.slug}"
    }


def test_a_report_is_read_by_its_reporter_and_reviewers_only(api: APIClient) -> None:
    # given
    report = MisconductReportFactory.create()
    url = f"{REPORTS}{report.public_id}/"

    # when / then
    assert api.get(url).status_code in (401, 403)
    api.force_authenticate(report.reporter)
    assert api.get(url).json()["public_id"] == str(report.public_id)
    api.force_authenticate(UserFactory.create())
    assert api.get(url).status_code == 404
    assert api.get(f"{REPORTS}not-a-uuid/").status_code == 404
    api.force_authenticate(operator_reviewer())
    assert api.get(url).status_code == 200


def test_reviewers_move_reports_and_the_reporter_hears_of_it(api: APIClient) -> None:
    # given
    report = MisconductReportFactory.create()
    url = f"{REPORTS}{report.public_id}/transition/"
    api.force_authenticate(operator_reviewer())

    # when
    triaged = api.post(url, {"to": "triaged"}, format="json")
    stale = api.post(
        url,
        {"to": "dismissed", "note": "x", "expected_state": "submitted"},
        format="json",
    )
    illegal = api.post(url, {"to": "submitted"}, format="json")
    investigate = api.post(url, {"to": "investigating"}, format="json")
    no_note = api.post(url, {"to": "dismissed"}, format="json")

    # then
    assert triaged.status_code == 200
    assert triaged.json()["state"] == "triaged"
    assert stale.status_code == 409
    assert _error(stale)["code"] == "invalid_transition"
    assert illegal.status_code == 403  # nobody moves a report back to submitted
    assert investigate.status_code == 403  # the industry body's analysts' move
    assert no_note.status_code == 400
    assert _error(no_note)["details"] == {"note": ["Tell the reporter why."]}
    report.refresh_from_db()
    assert report.state == State.TRIAGED
    assert (
        Notification.objects.filter(
            user=report.reporter, kind=Notification.Kind.REPORT_STATUS
        ).count()
        == 1
    )


def test_non_reviewers_cannot_move_reports(api: APIClient) -> None:
    # given
    report = MisconductReportFactory.create()
    url = f"{REPORTS}{report.public_id}/transition/"

    # when
    api.force_authenticate(report.reporter)
    reporter = api.post(url, {"to": "dismissed", "note": "oops"}, format="json")
    api.force_authenticate(UserFactory.create(is_staff=True))
    stranger = api.post(url, {"to": "triaged"}, format="json")

    # then
    assert reporter.status_code == 403
    assert stranger.status_code == 404
    report.refresh_from_db()
    assert report.state == State.SUBMITTED


# --- Upload limits ------------------------------------------------------------------


def _multipart(publisher: Any, files: list[SimpleUploadedFile]) -> dict[str, Any]:
    return {
        "publisher": publisher.slug,
        "category": "other",
        "description": "See the files.",
        "files": files,
    }


def test_a_body_larger_than_a_report_takes_is_refused_with_413(
    api: APIClient, settings: Any
) -> None:
    # given
    settings.REPORT_EVIDENCE_MAX_BYTES = 1000
    publisher = OrganizationFactory.create()
    api.force_authenticate(UserFactory.create())
    huge = PNG + b"\x00" * report_upload_limit()

    # when
    response = api.post(
        REPORTS,
        _multipart(publisher, [SimpleUploadedFile("huge.png", huge, "image/png")]),
        format="multipart",
    )

    # then
    assert response.status_code == 413
    error = _error(response)
    assert error["code"] == "upload_too_large"
    assert error["message"].startswith("The upload is too large")
    assert not MisconductReport.objects.exists()


def test_a_file_over_the_limit_is_refused_with_the_error_format(
    api: APIClient, settings: Any
) -> None:
    # given
    settings.REPORT_EVIDENCE_MAX_BYTES = 1000
    publisher = OrganizationFactory.create()
    api.force_authenticate(UserFactory.create())
    files = [
        SimpleUploadedFile("ok.png", PNG, "image/png"),
        SimpleUploadedFile("big.png", PNG + b"\x00" * 1000, "image/png"),
    ]

    # when
    response = api.post(REPORTS, _multipart(publisher, files), format="multipart")

    # then
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid_evidence"
    assert error["details"] == {"files": ["big.png is larger than 1000\xa0bytes."]}
    assert not MisconductReport.objects.exists()


def test_more_files_than_a_report_takes_are_refused_with_the_error_format(
    api: APIClient,
) -> None:
    # given
    publisher = OrganizationFactory.create()
    api.force_authenticate(UserFactory.create())
    files = [SimpleUploadedFile(f"{n}.png", PNG, "image/png") for n in range(6)]

    # when
    response = api.post(REPORTS, _multipart(publisher, files), format="multipart")

    # then
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid_evidence"
    assert error["details"] == {"files": ["Attach at most 5 files."]}
    assert not MisconductReport.objects.exists()


# --- Downloads and conflicts of interest --------------------------------------------


def test_evidence_downloads_carry_the_same_headers_as_the_page(
    api: APIClient,
) -> None:
    # given
    publisher = OrganizationFactory.create()
    api.force_authenticate(UserFactory.create())
    sent = api.post(
        REPORTS,
        _multipart(publisher, [SimpleUploadedFile("notes.html", TEXT, "text/html")]),
        format="multipart",
    ).json()

    # when
    response = api.get(
        f"{REPORTS}{sent['public_id']}/evidence/{sent['evidence'][0]['id']}/"
    )

    # then
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="notes.html.txt"'
    assert response["Content-Type"] == "text/plain"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Cache-Control"] == "private, no-store"


def test_a_reviewer_of_the_reported_publisher_cannot_read_the_report(
    api: APIClient,
) -> None:
    # given
    publisher = OrganizationFactory.create()
    reporter = UserFactory.create()
    api.force_authenticate(reporter)
    sent = api.post(
        REPORTS,
        _multipart(publisher, [SimpleUploadedFile("shot.png", PNG, "image/png")]),
        format="multipart",
    ).json()
    reviewer = operator_reviewer()
    MembershipFactory.create(user=reviewer, organization=publisher)
    report_url = f"{REPORTS}{sent['public_id']}/"
    evidence_url = f"{report_url}evidence/{sent['evidence'][0]['id']}/"

    # when
    api.force_authenticate(reviewer)
    detail = api.get(report_url)
    download = api.get(evidence_url)
    api.force_authenticate(reporter)
    own = api.get(evidence_url)

    # then
    assert detail.status_code == 404
    assert download.status_code == 404
    assert own.status_code == 200
