"""Misconduct reports: how users send them and how they move.

    submitted -> triaged -> investigating -> substantiated | dismissed
    submitted -> dismissed, triaged -> dismissed

Users only create reports, which start as ``submitted``. The operator's reviewers
triage and dismiss them; the industry body that rates the publisher (the report's
``body``: its analysts, owners and administrators) investigates and decides. Every
move goes through ``report_transition``: a compare-and-set UPDATE, an event row and
a message to the reporter.

Investigation: moving a report to ``investigating`` tells the publisher's owners
and administrators, who may answer once (``report_entity_answer``) until
``answer_deadline`` (``REPORT_ANSWER_DAYS`` working days). The report is decided
only once they answered or the deadline passed. Substantiating it records a
``Finding`` (category, severity, when it occurred, reasons) in the same
transaction; a serious finding puts the publisher's ratings on watch with every
body it is enrolled with.
"""

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.core.validators import URLValidator
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from marketplace.exceptions import (
    ApplicationError,
    Conflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)
from marketplace.models import Agent, Membership, Notification, Organization, User
from marketplace.ratelimit import allow
from marketplace.services.agreements import agreements_ensure_accepted
from marketplace.services.governance import listing_flag_scan
from marketplace.services.notifications import notification_create
from marketplace.services.publishing import is_reviewer
from ratings.exceptions import EmailNotConfirmed, InvalidEvidence, TooManyReports
from ratings.models import (
    CreditEvent,
    Enrolment,
    Finding,
    MisconductReport,
    ReportEvent,
    ReportEvidence,
)
from ratings.selectors import (
    ENTITY_ROLES,
    agent_reportable,
    report_body_analyst,
    report_conflicted,
)

State = MisconductReport.State


class Authority(StrEnum):
    """Who acts on a report."""

    REPORTER = "reporter"
    REVIEWER = "reviewer"  # the operator's reviewers
    ANALYST = "analyst"  # the analysts of the industry body the report is assigned to


TRANSITIONS: dict[str, frozenset[str]] = {
    State.SUBMITTED: frozenset({State.TRIAGED, State.DISMISSED}),
    State.TRIAGED: frozenset({State.INVESTIGATING, State.DISMISSED}),
    State.INVESTIGATING: frozenset({State.SUBSTANTIATED, State.DISMISSED}),
    State.SUBSTANTIATED: frozenset(),
    State.DISMISSED: frozenset(),
}

# Who may move a report into each state. A user reaches ``submitted`` only, by
# sending the report (``report_submit``).
MOVED_BY: dict[str, frozenset[Authority]] = {
    State.SUBMITTED: frozenset({Authority.REPORTER}),
    State.TRIAGED: frozenset({Authority.REVIEWER}),
    State.INVESTIGATING: frozenset({Authority.ANALYST}),
    State.SUBSTANTIATED: frozenset({Authority.ANALYST}),
    State.DISMISSED: frozenset({Authority.REVIEWER, Authority.ANALYST}),
}

# The reporter is told why a report was dismissed or what was found.
NOTE_REQUIRED = frozenset({State.DISMISSED, State.SUBSTANTIATED})
NOTE_MAX_LENGTH = 2000
# The earliest year a finding's misconduct may have occurred in: nothing the
# store knows of is older, and far dates do not survive a change of time zone.
OCCURRED_EARLIEST_YEAR = 2000

# What the reporter reads in the inbox (and the e-mail) after each move.
STATUS_MESSAGES: dict[str, str] = {
    State.TRIAGED: gettext_noop(
        "Your report about %(publisher)s was accepted for review."
    ),
    State.INVESTIGATING: gettext_noop(
        "Your report about %(publisher)s is now under investigation."
    ),
    State.SUBSTANTIATED: gettext_noop("Your report about %(publisher)s was upheld."),
    State.DISMISSED: gettext_noop("Your report about %(publisher)s was dismissed."),
}

DESCRIPTION_MAX_LENGTH = 5000
LINKS_MAX = 10
LINK_MAX_LENGTH = 2000
FILES_MAX = 5
# Reports a user may send in a day.
REPORTS_PER_DAY = 10

# --- Evidence -----------------------------------------------------------------------

# The types a report takes, told by the file's first bytes, with the suffix its
# stored copy gets. Plain text has no signature: it is UTF-8 without control
# characters and without markup (see ``_is_plain_text``).
EVIDENCE_TYPES: dict[str, str] = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
}
_SIGNATURES: list[tuple[bytes, str]] = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"%PDF-", "application/pdf"),
]
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# The start of an HTML or XML document (after the WHATWG MIME sniffing standard's
# patterns): text that a browser could take for a page is not plain text.
_MARKUP = re.compile(
    r"\s*<(?:!--|\?xml|(?:!doctype\s+html|html|head|body|script|iframe|svg|style|"
    r"title|a|b|p|br|div|h1|font|table|img|object|embed|meta|link|form)(?:[\s/>]|$))",
    re.IGNORECASE,
)


def _is_plain_text(data: bytes) -> bool:
    try:
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not _CONTROL.search(text) and not _MARKUP.match(text[:1024])


def evidence_sniff(data: bytes) -> str | None:
    """The type of a file told by its bytes: one of ``EVIDENCE_TYPES``, or None."""
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    if data and _is_plain_text(data):
        return "text/plain"
    return None


@dataclass(frozen=True)
class _Upload:
    name: str
    content_type: str
    data: bytes
    sha256: str


def _clean_name(name: str | None) -> str:
    """The uploaded file's base name, without folders or control characters."""
    base = PurePosixPath((name or "").replace("\\", "/")).name
    base = _CONTROL.sub("", base).strip()
    return base[:255] or "evidence"


def evidence_too_large_message(name: str | None) -> str:
    """What the reporter reads about a file over ``REPORT_EVIDENCE_MAX_BYTES``."""
    return _("%(name)s is larger than %(size)s.") % {
        "name": _clean_name(name),
        "size": filesizeformat(settings.REPORT_EVIDENCE_MAX_BYTES),
    }


def _read_files(files: Sequence[File[Any]]) -> list[_Upload]:
    """Read and check every file before anything is stored."""
    if len(files) > FILES_MAX:
        message = _("Attach at most %(max)d files.") % {"max": FILES_MAX}
        raise InvalidEvidence(message, details={"files": [message]})
    limit = settings.REPORT_EVIDENCE_MAX_BYTES
    uploads = []
    problems = []
    for upload in files:
        name = _clean_name(upload.name)
        if upload.size is not None and upload.size > limit:
            data = b""
            too_large = True
        else:
            upload.seek(0)
            data = upload.read(limit + 1)
            too_large = len(data) > limit
        if too_large:
            problems.append(evidence_too_large_message(name))
            continue
        if not data:
            problems.append(_("%(name)s is empty.") % {"name": name})
            continue
        content_type = evidence_sniff(data)
        if content_type is None:
            problems.append(
                _(
                    "%(name)s is not a PNG or JPEG image, a PDF document or UTF-8 "
                    "plain text; other kinds of file are not accepted."
                )
                % {"name": name}
            )
            continue
        uploads.append(
            _Upload(
                name=name,
                content_type=content_type,
                data=data,
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
    if problems:
        raise InvalidEvidence(problems[0], details={"files": problems})
    return uploads


def clean_links(
    links: Sequence[object],
    *,
    https_only: bool = False,
    error: type[ApplicationError] = InvalidEvidence,
) -> list[str]:
    """Evidence links as given with a report (http or https) or a repair
    application (``https_only``): each once, at most ``LINKS_MAX`` of at most
    ``LINK_MAX_LENGTH`` characters. ``error`` names every fault under
    ``evidence_links``."""
    if isinstance(links, str) or len(links) > LINKS_MAX:
        message = _("Give at most %(max)d links.") % {"max": LINKS_MAX}
        raise error(message, details={"evidence_links": [message]})
    validate = URLValidator(schemes=["https"] if https_only else ["http", "https"])
    cleaned: list[str] = []
    problems = []
    for index, link in enumerate(links, start=1):
        text = link.strip() if isinstance(link, str) else ""
        try:
            if not text or len(text) > LINK_MAX_LENGTH:
                raise ValidationError("invalid")
            validate(text)
        except ValidationError:
            problems.append(
                _("Link %(number)d is not an https:// address.") % {"number": index}
                if https_only
                else _("Link %(number)d is not an http:// or https:// address.")
                % {"number": index}
            )
            continue
        if text not in cleaned:
            cleaned.append(text)
    if problems:
        raise error(problems[0], details={"evidence_links": problems})
    return cleaned


# --- Submission ---------------------------------------------------------------------


def report_assign_body(*, report: MisconductReport) -> Organization | None:
    """The industry body that rates the report's publisher, which handles the
    report: the body of its earliest active enrolment. Without one the report stays
    unassigned and the operator's reviewers handle it."""
    enrolment = (
        Enrolment.objects.filter(
            entity_id=report.publisher_id, withdrawn_at__isnull=True
        )
        .select_related("body")
        .order_by("signed_at", "pk")
        .first()
    )
    return enrolment.body if enrolment is not None else None


@transaction.atomic
def report_submit(
    *,
    reporter: User,
    publisher: Organization,
    agent: Agent | None = None,
    category: str,
    description: str,
    evidence_links: Sequence[object] = (),
    files: Sequence[File[Any]] = (),
) -> MisconductReport:
    """File a misconduct report about a publisher, or one of its agents, with
    links and files as evidence. Only users with a confirmed e-mail address, a few
    times a day."""
    if not reporter.is_authenticated or not reporter.is_active:
        raise PermissionDenied()
    agreements_ensure_accepted(user=reporter)
    if not reporter.email_verified:
        raise EmailNotConfirmed(
            _("Confirm your e-mail address before you send a report.")
        )
    if publisher.kind != Organization.Kind.PUBLISHER:
        raise NotFound(_("There is no such publisher."))
    if agent is not None:
        if agent.publisher_id != publisher.pk:
            raise ApplicationError(
                _("This agent is not listed by this publisher."),
                details={"agent": [_("This agent is not listed by this publisher.")]},
            )
        if not agent_reportable(user=reporter, agent=agent):
            raise NotFound(_("There is no such agent."))
    errors: dict[str, list[str]] = {}
    if category not in MisconductReport.Category.values:
        errors["category"] = [_("Choose a category.")]
    description = description.strip()
    if not description:
        errors["description"] = [_("Describe what happened.")]
    elif len(description) > DESCRIPTION_MAX_LENGTH:
        errors["description"] = [
            _("Keep the description to %(max)d characters.")
            % {"max": DESCRIPTION_MAX_LENGTH}
        ]
    if errors:
        raise ApplicationError(
            _("Some fields are not valid."), code="invalid", details=errors
        )
    links = clean_links(evidence_links)
    uploads = _read_files(files)
    if not allow(
        action="report-submit",
        subject=str(reporter.pk),
        limit=REPORTS_PER_DAY,
        window=24 * 60 * 60,
    ):
        raise TooManyReports(_("You have sent many reports today; try again tomorrow."))

    report = MisconductReport(
        reporter=reporter,
        publisher=publisher,
        agent=agent,
        category=category,
        description=description,
        evidence_links=links,
        state=State.SUBMITTED,
    )
    report.full_clean(exclude=["body"])
    report.save()
    ReportEvent.objects.create(
        report=report, actor=reporter, from_state="", to_state=State.SUBMITTED
    )
    listing_flag_scan(
        agent=agent, source="report", source_id=report.pk, text=description
    )
    body = report_assign_body(report=report)
    if body is not None:
        MisconductReport.objects.filter(pk=report.pk).update(body=body)
        report.body = body

    stored: list[ReportEvidence] = []
    try:
        for upload in uploads:
            evidence = ReportEvidence(
                report=report,
                original_name=upload.name,
                content_type=upload.content_type,
                size=len(upload.data),
                sha256=upload.sha256,
            )
            suffix = EVIDENCE_TYPES[upload.content_type]
            evidence.file.save(
                f"evidence{suffix}", ContentFile(upload.data), save=False
            )
            stored.append(evidence)
            evidence.save()
    except BaseException:
        # The transaction rolls back; the files written so far go too.
        for evidence in stored:
            evidence.file.delete(save=False)
        raise
    return report


# --- Moves --------------------------------------------------------------------------


def report_authorities(
    *, actor: User, report: MisconductReport | None = None
) -> frozenset[Authority]:
    """What the actor may do to reports (to this one, when given: nothing to a
    report they sent or that is about a publisher they belong to). The analysts
    of ``report.body`` join here with the rating work."""
    if report is not None and report_conflicted(user=actor, report=report):
        return frozenset()
    authorities = set()
    if is_reviewer(actor):
        authorities.add(Authority.REVIEWER)
    if report is not None and report_body_analyst(user=actor, report=report):
        authorities.add(Authority.ANALYST)
    return frozenset(authorities)


def report_moves(*, state: str, authorities: frozenset[Authority]) -> list[str]:
    """The states a report in ``state`` may be moved to by someone with these
    authorities, in the order of State."""
    allowed = TRANSITIONS[state]
    return [s for s in State.values if s in allowed and MOVED_BY[s] & authorities]


# What the entity's owners and administrators read when a report about them goes
# under investigation, and when it is decided.
ENTITY_MESSAGES: dict[str, str] = {
    State.INVESTIGATING: gettext_noop(
        "%(body)s is investigating a report about %(publisher)s. You may answer it "
        "until %(deadline)s."
    ),
    State.SUBSTANTIATED: gettext_noop("%(body)s upheld a report about %(publisher)s."),
    State.DISMISSED: gettext_noop(
        "%(body)s dismissed the report about %(publisher)s it investigated."
    ),
}
ANSWER_MAX_LENGTH = 5000


def _entity_people(report: MisconductReport) -> list[User]:
    return list(
        User.objects.filter(
            memberships__organization_id=report.publisher_id,
            memberships__role__in=ENTITY_ROLES,
        ).distinct()
    )


def _tell_entity(report: MisconductReport, to: str, **params: Any) -> None:
    link = reverse("report-detail", kwargs={"public_id": report.public_id})
    for user in _entity_people(report):
        notification_create(
            user=user,
            kind=Notification.Kind.CREDIT_RATING,
            message=ENTITY_MESSAGES[to],
            params={
                "body": report.body.name if report.body else "",
                "publisher": report.publisher.name,
                "report": str(report.public_id),
                **params,
            },
            link=link,
        )


def _finding_fields(
    *,
    report: MisconductReport,
    severity: str,
    category: str,
    occurred_at: datetime | None,
    now: datetime,
) -> tuple[str, str, datetime]:
    """The finding's severity, category (the report's by default) and when it
    occurred (when the report was sent by default), checked."""
    errors: dict[str, list[str]] = {}
    if severity not in Finding.Severity.values:
        errors["severity"] = [_("Say how serious the misconduct is.")]
    category = category or report.category
    if category not in MisconductReport.Category.values:
        errors["category"] = [_("Choose a category.")]
    occurred = occurred_at or report.created_at
    if occurred.year < OCCURRED_EARLIEST_YEAR:
        errors["occurred_at"] = [
            _("Give a day from %(year)d on.") % {"year": OCCURRED_EARLIEST_YEAR}
        ]
    elif timezone.is_naive(occurred):
        errors["occurred_at"] = [_("Give the moment with its time zone.")]
    elif occurred > now:
        errors["occurred_at"] = [
            _("The misconduct cannot have occurred in the future.")
        ]
    if errors:
        first = next(iter(errors.values()))[0]
        raise ApplicationError(first, code="invalid", details=errors)
    return severity, category, occurred


def _ensure_entity_heard(current: MisconductReport, now: datetime) -> None:
    """A report is upheld only once the entity answered or its time passed."""
    if current.entity_answered_at is not None:
        return
    if current.answer_deadline is not None and now > current.answer_deadline:
        return
    if current.answer_deadline is None:
        raise Conflict(
            _("The entity was not asked to answer: investigate the report first."),
            code="entity_not_heard",
        )
    raise Conflict(
        _(
            "The entity may answer until %(deadline)s: uphold the report once it "
            "answered or that time passed."
        )
        % {
            "deadline": formats.date_format(
                timezone.localtime(current.answer_deadline), "DATETIME_FORMAT"
            )
        },
        code="entity_not_heard",
    )


@transaction.atomic
def report_transition(
    *,
    report: MisconductReport,
    to: str,
    actor: User,
    note: str = "",
    severity: str = "",
    category: str = "",
    occurred_at: datetime | None = None,
) -> MisconductReport:
    """Move ``report`` from the state the caller saw (``report.state``) to ``to``,
    if the table allows it, the actor may, and nobody moved it first; record the
    move and tell the reporter.

    To ``investigating``: the publisher's owners and administrators are told and
    may answer until ``answer_deadline``. To ``substantiated``: only once they
    answered or the deadline passed, with the finding's ``severity``, ``category``
    (the report's by default), ``occurred_at`` (when the report was sent by
    default) and the reasons (``note``); the ``Finding`` is made here, and a
    serious one opens rating watches. ``note`` gives the reasons for dismissing
    too."""
    if to not in State.values:
        raise ApplicationError(
            _("Unknown state."), details={"to": [_("Unknown state.")]}
        )
    if report_conflicted(user=actor, report=report):
        raise PermissionDenied(
            _("You sent this report or belong to its publisher: leave it to others."),
            code="conflict_of_interest",
        )
    if not MOVED_BY[to] & report_authorities(actor=actor, report=report):
        raise PermissionDenied(_("You cannot move reports to this state."))
    source = report.state
    if to not in TRANSITIONS[source]:
        raise InvalidTransition(
            _("A report that is %(from)s cannot become %(to)s.")
            % {"from": State(source).label, "to": State(to).label}
        )
    note = note.strip()
    if len(note) > NOTE_MAX_LENGTH:
        message = _("Keep the note to %(max)d characters.") % {"max": NOTE_MAX_LENGTH}
        raise ApplicationError(message, details={"note": [message]})
    if to in NOTE_REQUIRED and not note:
        message = _("Tell the reporter why.")
        raise ApplicationError(message, details={"note": [message]})
    now = timezone.now()
    fields: dict[str, Any] = {}
    if to == State.SUBSTANTIATED:
        severity, category, occurred = _finding_fields(
            report=report,
            severity=severity,
            category=category,
            occurred_at=occurred_at,
            now=now,
        )
        current = MisconductReport.objects.select_for_update().get(pk=report.pk)
        _ensure_entity_heard(current, now)
    elif to == State.INVESTIGATING:
        from ratings.services.decisions import add_working_days

        fields["answer_deadline"] = add_working_days(now, settings.REPORT_ANSWER_DAYS)
    moved = MisconductReport.objects.filter(pk=report.pk, state=source).update(
        state=to, updated_at=now, **fields
    )
    if not moved:
        raise InvalidTransition(
            _("This report was changed meanwhile; reload and retry.")
        )
    ReportEvent.objects.create(
        report=report, actor=actor, from_state=source, to_state=to, note=note
    )
    report.refresh_from_db()
    if to == State.INVESTIGATING:
        _tell_entity(report, to, deadline=fields["answer_deadline"].isoformat())
    elif to == State.SUBSTANTIATED:
        _make_finding(
            report=report,
            actor=actor,
            severity=severity,
            category=category,
            occurred_at=occurred,
            reasons=note,
        )
    elif to == State.DISMISSED and report.answer_deadline is not None:
        _tell_entity(report, to)
    # A deleted account hears of nothing; the report goes on without it.
    if report.reporter is not None:
        notification_create(
            user=report.reporter,
            kind=Notification.Kind.REPORT_STATUS,
            message=STATUS_MESSAGES[to],
            params={"publisher": report.publisher.name},
            link=reverse("report-detail", kwargs={"public_id": report.public_id}),
        )
    return report


def _make_finding(
    *,
    report: MisconductReport,
    actor: User,
    severity: str,
    category: str,
    occurred_at: datetime,
    reasons: str,
) -> Finding:
    """The finding of a substantiated report; a serious one puts the publisher on
    watch with every body it is actively enrolled with."""
    finding = Finding.objects.create(
        report=report,
        entity_id=report.publisher_id,
        body_id=report.body_id,
        category=category,
        severity=severity,
        occurred_at=occurred_at,
        reasons=reasons,
        decided_by=actor,
    )
    CreditEvent.objects.create(
        entity_id=report.publisher_id,
        actor=actor,
        action="finding_made",
        to_state=severity,
        payload={
            "finding": finding.pk,
            "report": str(report.public_id),
            "category": category,
            "severity": severity,
            "occurred_at": occurred_at.isoformat(),
        },
    )
    _tell_entity(report, State.SUBSTANTIATED)
    if severity == Finding.Severity.SERIOUS:
        from ratings.services.surveillance import watch_on_finding

        watch_on_finding(finding=finding, actor=actor)
    return finding


@transaction.atomic
def report_entity_answer(
    *, actor: User, report: MisconductReport, text: str
) -> MisconductReport:
    """The publisher's answer to a report under investigation: by one of its
    owners or administrators, once, until the deadline."""
    if not Membership.objects.filter(
        user=actor, organization_id=report.publisher_id, role__in=ENTITY_ROLES
    ).exists():
        raise PermissionDenied(
            _("Only the publisher's owners and administrators answer its reports."),
            code="not_of_the_entity",
        )
    current = MisconductReport.objects.select_for_update().get(pk=report.pk)
    if current.state != State.INVESTIGATING or current.answer_deadline is None:
        raise Conflict(
            _("Only a report under investigation can be answered."),
            code="not_investigating",
        )
    if current.entity_answered_at is not None:
        raise Conflict(_("This report was answered already."), code="already_answered")
    now = timezone.now()
    if now > current.answer_deadline:
        raise Conflict(_("The time to answer has passed."), code="answer_window_closed")
    text = text.strip()
    if not text:
        raise ApplicationError.on_field("text", _("Write your answer."))
    if len(text) > ANSWER_MAX_LENGTH:
        raise ApplicationError.on_field(
            "text",
            _("Keep the answer to %(max)d characters.") % {"max": ANSWER_MAX_LENGTH},
        )
    MisconductReport.objects.filter(pk=current.pk).update(
        entity_answer=text,
        entity_answered_at=now,
        entity_answered_by=actor,
        updated_at=now,
    )
    CreditEvent.objects.create(
        entity_id=current.publisher_id,
        actor=actor,
        action="report_answered",
        payload={"report": str(current.public_id)},
    )
    report.refresh_from_db()
    return report
