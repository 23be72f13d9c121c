import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from marketplace.exceptions import InvalidTransition, NotFound, PermissionDenied
from marketplace.models import (
    AgentVersion,
    Membership,
    Notification,
    Organization,
)
from ratings.exceptions import EmailNotConfirmed, InvalidEvidence, TooManyReports
from ratings.models import MisconductReport, ReportEvent, ReportEvidence
from ratings.selectors import report_can_see, report_is_reporter, report_queue
from ratings.services import (
    MOVED_BY,
    REPORTS_PER_DAY,
    TRANSITIONS,
    Authority,
    evidence_sniff,
    report_authorities,
    report_submit,
    report_transition,
)
from tests.marketplace.factories import (
    AgentFactory,
    AgentVersionFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.ratings.factories import (
    EXE,
    HTML,
    JPEG,
    PDF,
    PNG,
    TEXT,
    MisconductReportFactory,
    operator_reviewer,
    published_agent,
    reporter_of,
)

pytestmark = pytest.mark.django_db

State = MisconductReport.State


def _submit(**overrides: Any) -> MisconductReport:
    agent = overrides.pop("agent", None) or published_agent()
    fields: dict[str, Any] = {
        "reporter": UserFactory.create(),
        "publisher": agent.publisher,
        "agent": agent,
        "category": MisconductReport.Category.INDUCING_CONSUMPTION,
        "description": "It kept pushing me to buy the premium plan.",
        "evidence_links": [],
        "files": [],
    }
    fields.update(overrides)
    return report_submit(**fields)


def _stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


# --- Submission ---------------------------------------------------------------------


def test_a_confirmed_user_reports_an_agent_with_links_and_files(
    settings: Any,
) -> None:
    # given
    agent = published_agent()
    reporter = UserFactory.create()
    files = [
        SimpleUploadedFile("screenshot.png", PNG, "image/png"),
        SimpleUploadedFile("photo.jpeg", JPEG, "image/jpeg"),
        SimpleUploadedFile("receipt.pdf", PDF, "application/pdf"),
        SimpleUploadedFile("../../chat log.txt", TEXT, "text/plain"),
    ]

    # when
    report = report_submit(
        reporter=reporter,
        publisher=agent.publisher,
        agent=agent,
        category=MisconductReport.Category.INDUCING_CONSUMPTION,
        description="  It kept pushing me to buy the premium plan.  ",
        evidence_links=["https://example.com/a", " http://example.com/b "],
        files=files,
    )

    # then
    report.refresh_from_db()
    assert report.state == State.SUBMITTED
    assert report.reporter == reporter
    assert report.publisher == agent.publisher
    assert report.description == "It kept pushing me to buy the premium plan."
    assert report.evidence_links == ["https://example.com/a", "http://example.com/b"]
    assert report.body is None  # no industry body rates anyone yet
    evidence = list(report.evidence.order_by("pk"))
    assert [e.content_type for e in evidence] == [
        "image/png",
        "image/jpeg",
        "application/pdf",
        "text/plain",
    ]
    assert [e.original_name for e in evidence] == [
        "screenshot.png",
        "photo.jpeg",
        "receipt.pdf",
        "chat log.txt",
    ]
    assert evidence[0].size == len(PNG)
    assert evidence[0].sha256 == hashlib.sha256(PNG).hexdigest()
    for item in evidence:
        assert item.file.name.startswith(f"reports/{report.public_id}/")
        assert item.original_name not in item.file.name  # a random name
    stored = _stored_files(Path(settings.REPORT_EVIDENCE_ROOT))
    assert len(stored) == 4
    assert not Path(settings.MEDIA_ROOT).exists()  # nothing under MEDIA_ROOT
    assert evidence[2].file.read() == PDF
    event = ReportEvent.objects.get(report=report)
    assert (event.actor, event.from_state, event.to_state) == (
        reporter,
        "",
        State.SUBMITTED,
    )


def test_a_user_reports_a_publisher_without_an_agent() -> None:
    # given
    publisher = OrganizationFactory.create()

    # when
    report = report_submit(
        reporter=UserFactory.create(),
        publisher=publisher,
        category=MisconductReport.Category.PRIVACY_VIOLATION,
        description="They sold my data.",
    )

    # then
    assert report.agent is None
    assert report.publisher == publisher


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (PDF, "application/pdf"),
        (TEXT, "text/plain"),
        (b"\xef\xbb\xbfplain with a byte order mark", "text/plain"),
        (b"a < b and 2 > 1", "text/plain"),
        (HTML, None),
        (b"  <html><body>hi</body></html>", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"<?xml version='1.0'?><x/>", None),
        (b"<script>alert(1)</script>", None),
        (EXE, None),
        (b"PK\x03\x04zip", None),
        (b"GIF89a\x01\x00", None),
        (b"\xff\xfeu\x00t\x00f\x00", None),  # UTF-16
        (b"text with a bell \x07", None),
        (b"", None),
    ],
)
def test_the_type_of_a_file_is_told_by_its_bytes(
    content: bytes, expected: str | None
) -> None:
    assert evidence_sniff(content) == expected


@pytest.mark.parametrize("content", [HTML, EXE], ids=["html", "exe"])
def test_a_file_named_png_that_is_not_one_is_refused(
    content: bytes, settings: Any
) -> None:
    # given
    upload = SimpleUploadedFile("screenshot.png", content, "image/png")

    # when
    with pytest.raises(InvalidEvidence) as refused:
        _submit(files=[SimpleUploadedFile("ok.png", PNG), upload])

    # then
    assert "screenshot.png" in refused.value.message
    assert (
        "PNG or JPEG image, a PDF document or UTF-8 plain text"
        in (refused.value.details["files"][0])
    )
    assert not MisconductReport.objects.exists()
    assert not ReportEvidence.objects.exists()
    assert _stored_files(Path(settings.REPORT_EVIDENCE_ROOT)) == []


def test_a_png_with_another_name_is_kept_as_a_png() -> None:
    # when
    report = _submit(files=[SimpleUploadedFile("notes.txt", PNG, "text/plain")])

    # then
    evidence = report.evidence.get()
    assert evidence.content_type == "image/png"
    assert evidence.original_name == "notes.txt"
    assert evidence.file.name.endswith(".png")


def test_files_up_to_the_size_limit_are_taken_and_larger_ones_refused(
    settings: Any,
) -> None:
    # given
    settings.REPORT_EVIDENCE_MAX_BYTES = 64
    at_limit = PNG + b"\x00" * (64 - len(PNG))
    over = at_limit + b"\x00"

    # when
    report = _submit(files=[SimpleUploadedFile("a.png", at_limit)])
    with pytest.raises(InvalidEvidence) as refused:
        _submit(files=[SimpleUploadedFile("big.png", over)])

    # then
    assert report.evidence.get().size == 64
    assert refused.value.details == {"files": ["big.png is larger than 64\xa0bytes."]}
    assert MisconductReport.objects.count() == 1


def test_at_most_five_files_are_taken() -> None:
    # given
    files = [SimpleUploadedFile(f"{n}.png", PNG) for n in range(6)]

    # when
    with pytest.raises(InvalidEvidence) as refused:
        _submit(files=files)
    report = _submit(files=files[:5])

    # then
    assert refused.value.details == {"files": ["Attach at most 5 files."]}
    assert report.evidence.count() == 5


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(InvalidEvidence) as refused:
        _submit(files=[SimpleUploadedFile("empty.txt", b"")])
    assert refused.value.details == {"files": ["empty.txt is empty."]}


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "ftp://example.com/file",
        "file:///etc/passwd",
        "example.com/no-scheme",
        "https://",
        "",
        "https://example.com/" + "a" * 2000,
        42,
        None,
    ],
)
def test_evidence_links_must_be_web_addresses(link: object) -> None:
    # when
    with pytest.raises(InvalidEvidence) as refused:
        _submit(evidence_links=["https://example.com/ok", link])

    # then
    assert refused.value.details == {
        "evidence_links": ["Link 2 is not an http:// or https:// address."]
    }
    assert not MisconductReport.objects.exists()


def test_at_most_ten_links_are_taken_and_repeats_are_dropped() -> None:
    # given
    links = [f"https://example.com/{n}" for n in range(11)]

    # when
    with pytest.raises(InvalidEvidence) as refused:
        _submit(evidence_links=links)
    report = _submit(evidence_links=[links[0], links[1], links[0]])

    # then
    assert refused.value.details == {"evidence_links": ["Give at most 10 links."]}
    assert report.evidence_links == links[:2]


def test_a_user_with_an_unconfirmed_address_cannot_report() -> None:
    with pytest.raises(EmailNotConfirmed):
        _submit(reporter=UserFactory.create(email_verified_at=None))
    assert not MisconductReport.objects.exists()


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("   ", "Describe what happened."),
        ("x" * 5001, "Keep the description to 5000 characters."),
    ],
)
def test_a_report_needs_a_description_of_at_most_5000_characters(
    description: str, message: str
) -> None:
    with pytest.raises(Exception) as refused:  # noqa: PT011  # checked below
        _submit(description=description)
    assert refused.value.details == {"description": [message]}  # type: ignore[attr-defined]
    assert _submit(description="x" * 5000).description == "x" * 5000


def test_an_unknown_category_is_refused() -> None:
    with pytest.raises(Exception) as refused:  # noqa: PT011  # checked below
        _submit(category="rudeness")
    assert refused.value.details == {"category": ["Choose a category."]}  # type: ignore[attr-defined]


def test_the_agent_must_be_the_publishers() -> None:
    # given
    agent = published_agent()

    # when
    with pytest.raises(Exception) as refused:  # noqa: PT011  # checked below
        _submit(agent=agent, publisher=OrganizationFactory.create())

    # then
    assert "agent" in refused.value.details  # type: ignore[attr-defined]


def test_an_agent_never_published_cannot_be_reported_by_outsiders() -> None:
    # given
    draft = AgentVersionFactory.create(state=AgentVersion.State.DRAFT).agent

    # when / then
    with pytest.raises(NotFound):
        _submit(agent=draft)


def test_a_quarantined_agent_can_still_be_reported() -> None:
    # given
    agent = published_agent()
    agent.status = agent.Status.QUARANTINED
    agent.save()

    # when
    report = _submit(agent=agent)

    # then
    assert report.agent == agent


def test_only_publishers_are_reported() -> None:
    body = OrganizationFactory.create(kind=Organization.Kind.INDUSTRY_BODY)
    with pytest.raises(NotFound):
        _submit(agent=AgentFactory.create(), publisher=body)
    with pytest.raises(NotFound):
        report_submit(
            reporter=UserFactory.create(),
            publisher=body,
            category=MisconductReport.Category.OTHER,
            description="x",
        )


def test_a_user_sends_a_limited_number_of_reports_a_day() -> None:
    # given
    reporter = UserFactory.create()
    agent = published_agent()
    for _ in range(REPORTS_PER_DAY):
        _submit(reporter=reporter, agent=agent)

    # when / then
    with pytest.raises(TooManyReports):
        _submit(reporter=reporter, agent=agent)
    assert MisconductReport.objects.count() == REPORTS_PER_DAY
    assert _submit(agent=agent).pk  # others still can


# --- Moves --------------------------------------------------------------------------


def test_the_transition_table() -> None:
    expected = {
        State.SUBMITTED: {State.TRIAGED, State.DISMISSED},
        State.TRIAGED: {State.INVESTIGATING, State.DISMISSED},
        State.INVESTIGATING: {State.SUBSTANTIATED, State.DISMISSED},
        State.SUBSTANTIATED: set(),
        State.DISMISSED: set(),
    }
    assert expected == TRANSITIONS
    # users only reach "submitted", by sending a report
    assert [s for s, who in MOVED_BY.items() if Authority.REPORTER in who] == [
        State.SUBMITTED
    ]
    assert set(MOVED_BY) == set(State.values)


@pytest.mark.parametrize("source", State.values)
@pytest.mark.parametrize("to", [State.TRIAGED, State.DISMISSED])
def test_reviewers_move_reports_only_as_the_table_allows(source: str, to: str) -> None:
    # given
    report = MisconductReportFactory.create(state=source)
    reviewer = operator_reviewer()

    # when
    if to in TRANSITIONS[source]:
        moved = report_transition(report=report, to=to, actor=reviewer, note="Why.")
        # then
        assert moved.state == to
        assert report.events.filter(from_state=source, to_state=to).count() == 1
    else:
        with pytest.raises(InvalidTransition):
            report_transition(report=report, to=to, actor=reviewer, note="Why.")
        report.refresh_from_db()
        assert report.state == source
        assert report.events.count() == 1


@pytest.mark.parametrize("to", [State.INVESTIGATING, State.SUBSTANTIATED])
def test_reviewers_do_not_investigate(to: str) -> None:
    # given
    report = MisconductReportFactory.create(state=State.TRIAGED)

    # when / then
    with pytest.raises(PermissionDenied):
        report_transition(report=report, to=to, actor=operator_reviewer(), note="x")
    report.refresh_from_db()
    assert report.state == State.TRIAGED


def test_only_the_operators_reviewers_move_reports() -> None:
    # given
    report = MisconductReportFactory.create()
    outsiders = [
        reporter_of(report),
        UserFactory.create(is_staff=True),
        MembershipFactory.create(role=Membership.Role.OWNER).user,
        MembershipFactory.create(
            organization=OrganizationFactory.create(kind=Organization.Kind.OPERATOR),
            role=Membership.Role.MEMBER,
        ).user,
    ]

    # when / then
    for actor in outsiders:
        with pytest.raises(PermissionDenied):
            report_transition(report=report, to=State.TRIAGED, actor=actor)
    report.refresh_from_db()
    assert report.state == State.SUBMITTED


def test_a_reviewer_of_the_reported_publisher_cannot_act_on_the_report() -> None:
    # given
    report = MisconductReportFactory.create()
    reviewer = operator_reviewer()
    MembershipFactory.create(user=reviewer, organization=report.publisher)

    # when / then
    with pytest.raises(PermissionDenied) as refused:
        report_transition(report=report, to=State.TRIAGED, actor=reviewer)
    assert refused.value.code == "conflict_of_interest"


def test_a_move_from_a_stale_state_is_refused() -> None:
    # given: two reviewers open the same submitted report
    report = MisconductReportFactory.create()
    stale = MisconductReport.objects.get(pk=report.pk)
    report_transition(report=report, to=State.TRIAGED, actor=operator_reviewer())

    # when / then: the second dismisses what they saw as submitted
    with pytest.raises(InvalidTransition):
        report_transition(
            report=stale, to=State.DISMISSED, actor=operator_reviewer(), note="Spam."
        )
    report.refresh_from_db()
    assert report.state == State.TRIAGED
    assert list(report.events.values_list("to_state", flat=True)) == [
        State.SUBMITTED,
        State.TRIAGED,
    ]


def test_dismissing_needs_a_note_for_the_reporter() -> None:
    report = MisconductReportFactory.create()
    with pytest.raises(Exception) as refused:  # noqa: PT011  # checked below
        report_transition(
            report=report, to=State.DISMISSED, actor=operator_reviewer(), note=" "
        )
    assert refused.value.details == {"note": ["Tell the reporter why."]}  # type: ignore[attr-defined]


def test_the_reporter_is_told_of_each_move_in_the_inbox(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given
    report = MisconductReportFactory.create(reporter__preferred_language="en")
    reviewer = operator_reviewer()

    # when
    with django_capture_on_commit_callbacks() as callbacks:
        report_transition(
            report=report, to=State.DISMISSED, actor=reviewer, note="Not misconduct."
        )

    # then
    notification = Notification.objects.get(user=report.reporter)
    assert notification.kind == Notification.Kind.REPORT_STATUS
    assert notification.link == reverse(
        "report-detail", kwargs={"public_id": report.public_id}
    )
    assert notification.text == (
        f"Your report about {report.publisher.name} was dismissed."
    )
    event = report.events.get(to_state=State.DISMISSED)
    assert (event.actor, event.note) == (reviewer, "Not misconduct.")
    assert len(callbacks) == 1  # the e-mail, sent once this commits


def test_nobody_is_the_reporter_of_a_report_whose_account_was_deleted() -> None:
    # given
    report = MisconductReportFactory.create(reporter=None, submitted=None)
    reviewer = operator_reviewer()

    # when / then
    for user in (UserFactory.create(), AnonymousUser()):
        assert not report_is_reporter(user=user, report=report)
        assert not report_can_see(user=user, report=report)
    assert report_can_see(user=reviewer, report=report)
    moved = report_transition(report=report, to=State.TRIAGED, actor=reviewer)
    assert moved.state == State.TRIAGED
    assert not Notification.objects.exists()


def test_a_conflicted_reviewer_has_no_authority_over_the_report() -> None:
    # given
    report = MisconductReportFactory.create()
    reviewer = operator_reviewer()
    MembershipFactory.create(user=reviewer, organization=report.publisher)

    # when / then
    assert report_authorities(actor=reviewer) == {Authority.REVIEWER}
    assert report_authorities(actor=reviewer, report=report) == frozenset()
    assert not report_can_see(user=reviewer, report=report)
    assert report not in report_queue(actor=reviewer)
