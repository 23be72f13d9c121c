"""The public pages of certification: a certificate with its history, the page
that verifies a certificate or a credential, a scheme, a certification body; and
the certification section of the agent page (``agent_certification``)."""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from config.site import absolute_url
from marketplace.badges import BadgeState
from marketplace.credentials import Verification, VerificationStatus, verify_credential
from marketplace.forms.verification import CertificateVerifyForm
from marketplace.models import Agent, Certificate, CertificationEvent
from marketplace.selectors.certification import (
    accreditations_of,
    agent_certificates,
    certificate_events,
    certificate_get,
    certificate_list,
    certification_body_get,
    imported_credentials,
    scheme_get,
    scheme_list,
    scheme_valid_count,
)
from marketplace.services import credentials as credential_services
from marketplace.views.badges import ShownState, shown_state

BODY_PAGE_SIZE = 20
SCHEME_LATEST = 10

# The words of a certificate's history; an action not named here is shown as it is.
EVENT_ACTIONS = {
    "issued": gettext_lazy("Issued"),
    "extended": gettext_lazy("Issued as an extension"),
    "suspended": gettext_lazy("Suspended"),
    "reinstated": gettext_lazy("Reinstated"),
    "revoked": gettext_lazy("Revoked"),
    "expired": gettext_lazy("Expired"),
}

# How each verification status is shown: its name, the alert's colour and what
# it means.
STATUS_DISPLAY = {
    VerificationStatus.VALID: (
        gettext_lazy("Valid"),
        "success",
        gettext_lazy(
            "The signature holds, the credential is within its dates, and it is "
            "neither suspended nor revoked."
        ),
    ),
    VerificationStatus.EXPIRED: (
        gettext_lazy("Expired"),
        "secondary",
        gettext_lazy("The signature holds, but the credential's validity has ended."),
    ),
    VerificationStatus.SUSPENDED: (
        gettext_lazy("Suspended"),
        "warning",
        gettext_lazy(
            "The signature holds, but the issuing body has suspended the certificate."
        ),
    ),
    VerificationStatus.REVOKED: (
        gettext_lazy("Revoked"),
        "danger",
        gettext_lazy(
            "The signature holds, but the issuing body has revoked the certificate."
        ),
    ),
    VerificationStatus.INVALID: (
        gettext_lazy("Invalid"),
        "danger",
        gettext_lazy("This is not a credential this site's keys vouch for."),
    ),
    VerificationStatus.UNKNOWN: (
        gettext_lazy("Unknown"),
        "warning",
        gettext_lazy("The signature holds, but the status could not be checked."),
    ),
}


# --- The certificate -------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    action: str
    from_state: str
    to_state: str
    reason: str
    time: datetime


def _state_label(state: str) -> str:
    return str(Certificate.State(state).label) if state in Certificate.State else state


def _history(events: list[CertificationEvent]) -> list[HistoryEntry]:
    """The certificate's history as the public sees it: no one's name."""
    return [
        HistoryEntry(
            action=str(EVENT_ACTIONS.get(event.action, event.action)),
            from_state=_state_label(event.from_state),
            to_state=_state_label(event.to_state),
            reason=event.reason,
            time=event.created_at,
        )
        for event in events
    ]


def _verify_yourself() -> dict[str, str]:
    return {
        "jwks_url": absolute_url(reverse("jwks")),
        "status_list_url": absolute_url(reverse("certificate-status-list")),
        "api_url": absolute_url(reverse("api-certificate-verify")),
    }


def certificate_detail(request: HttpRequest, serial: str) -> HttpResponse:
    """A certificate's public record: what was certified, by whom, its state and
    history, its badge, and how to check it without trusting this page. It stays
    reachable whatever became of the agent, so that a holder of the credential can
    check it; the agent's page is linked only while the store lists it, and of an
    agent never published only its name is shown."""
    certificate = certificate_get(serial=serial)
    if certificate is None:
        raise Http404
    agent = certificate.agent
    now = timezone.now()
    shown = shown_state(
        state=certificate.state,
        valid_until=certificate.valid_until,
        level=certificate.level,
        now=now,
    )
    return render(
        request,
        "marketplace/certificates/detail.html",
        {
            "certificate": certificate,
            "agent": agent,
            "agent_listed": agent.is_listed,
            "agent_published": agent.published_at is not None,
            "scheme": certificate.scheme,
            "level_name": certificate.scheme.level_name(certificate.level),
            "shown": shown,
            "history": _history(list(certificate_events(certificate=certificate))),
            "has_report": bool(certificate.report_file or certificate.report_url),
            "verify": _verify_yourself(),
            "is_latest_version": agent.latest_version_id == certificate.version_id,
        },
    )


# --- Verification -----------------------------------------------------------------


@dataclass(frozen=True)
class CredentialSummary:
    """What a verified credential says, as text; any part may be empty."""

    credential_id: str
    subject_id: str
    subject_name: str
    version: str
    digest: str
    achievement_name: str
    achievement_id: str
    issuer_name: str
    issuer_id: str
    valid_from: str
    valid_until: str


def _text(value: Any) -> str:
    return value[:500] if isinstance(value, str) else ""


def _summary(credential: dict[str, Any]) -> CredentialSummary:
    """Read the credential's members defensively: it is a signed document, but
    not necessarily one of ours."""
    subject = credential.get("credentialSubject")
    subject = subject if isinstance(subject, dict) else {}
    achievement = subject.get("achievement")
    achievement = achievement if isinstance(achievement, dict) else {}
    issuer = credential.get("issuer")
    issuer = issuer if isinstance(issuer, dict) else {"id": issuer}
    identities: dict[str, str] = {}
    identifiers = subject.get("identifier")
    for identity in identifiers if isinstance(identifiers, list) else []:
        if isinstance(identity, dict):
            kind = _text(identity.get("identityType"))
            identities.setdefault(kind, _text(identity.get("identityHash")))
    return CredentialSummary(
        credential_id=_text(credential.get("id")),
        subject_id=_text(subject.get("id")),
        subject_name=identities.get("name", ""),
        version=identities.get("ext:AgentVersion", ""),
        digest=identities.get("ext:AgentVersionDigest", "").removeprefix("sha256$"),
        achievement_name=_text(achievement.get("name")),
        achievement_id=_text(achievement.get("id")),
        issuer_name=_text(issuer.get("name")),
        issuer_id=_text(issuer.get("id")),
        valid_from=_text(credential.get("validFrom")),
        valid_until=_text(credential.get("validUntil")),
    )


def verify_token(token: str, *, now: datetime | None = None) -> Verification:
    """Verify a credential as anyone could offline: with this site's published
    keys and its status list."""
    return verify_credential(
        token=token,
        jwks=credential_services.jwks(),
        status_lists=[credential_services.status_list_document()],
        now=now or timezone.now(),
    )


def _serial_of(credential_id: str) -> str:
    """The serial of one of this site's certificates, from its credential's id."""
    prefix = absolute_url("/certificates/")
    if not credential_id.startswith(prefix):
        return ""
    return credential_id.removeprefix(prefix).strip("/")[:32]


@require_http_methods(["GET", "HEAD", "POST"])
def certificate_verify(request: HttpRequest) -> HttpResponse:
    """Verify a certificate by its serial (the live record and its credential), or
    a credential pasted or uploaded. ``?serial=`` verifies from a link."""
    if request.method == "POST":
        form = CertificateVerifyForm(request.POST, request.FILES)
    elif request.GET.get("serial"):
        form = CertificateVerifyForm({"serial": request.GET["serial"]})
    else:
        form = CertificateVerifyForm()
    context: dict[str, Any] = {"form": form, "verify": _verify_yourself()}
    if not form.is_bound:
        return render(request, "marketplace/certificates/verify.html", context)
    if not form.is_valid():
        return render(
            request, "marketplace/certificates/verify.html", context, status=400
        )
    certificate: Certificate | None = None
    if form.cleaned_data["serial"]:
        certificate = certificate_get(serial=form.cleaned_data["serial"])
        if certificate is None:
            form.add_error("serial", _("No certificate has this serial number."))
            return render(
                request, "marketplace/certificates/verify.html", context, status=404
            )
        token = certificate.credential
    else:
        token = form.token
    verification = verify_token(token)
    summary = (
        _summary(verification.credential)
        if verification.credential is not None
        and verification.status != VerificationStatus.INVALID
        else None
    )
    if certificate is None and summary is not None:
        serial = _serial_of(summary.credential_id)
        certificate = certificate_get(serial=serial) if serial else None
    elif (
        summary is not None
        and certificate is not None
        and certificate.agent.published_at is None
    ):
        # Looked up by serial: an agent never published is named, not identified
        # (whoever holds the credential itself has these anyway).
        summary = replace(summary, subject_id="", digest="")
    label, tone, meaning = STATUS_DISPLAY[VerificationStatus(verification.status)]
    context.update(
        verification=verification,
        status_label=label,
        status_tone=tone,
        status_meaning=meaning,
        summary=summary,
        certificate=certificate,
        by_serial=bool(form.cleaned_data["serial"]),
    )
    return render(request, "marketplace/certificates/verify.html", context)


# --- Schemes and bodies -------------------------------------------------------------


def scheme_detail(request: HttpRequest, code: str) -> HttpResponse:
    """A scheme: what it assesses, at which levels, for how long, and what it has
    certified lately."""
    scheme = scheme_get(code=code)
    if scheme is None:
        raise Http404
    return render(
        request,
        "marketplace/certificates/scheme.html",
        {
            "scheme": scheme,
            "valid_count": scheme_valid_count(scheme=scheme),
            "certificates": list(certificate_list(scheme=scheme)[:SCHEME_LATEST]),
        },
    )


def body_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A certification body: what it is accredited for, its schemes and the
    certificates it issued."""
    body = certification_body_get(slug=slug)
    if body is None:
        raise Http404
    page = Paginator(certificate_list(body=body), BODY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "marketplace/certificates/body.html",
        {
            "body": body,
            "accreditations": list(accreditations_of(body=body)),
            "schemes": list(scheme_list(body=body)),
            "page": page,
        },
    )


# --- The agent page's section -------------------------------------------------------


@dataclass(frozen=True)
class CertificateRow:
    certificate: Certificate
    level_name: str
    shown: ShownState

    @property
    def expiring(self) -> bool:
        return self.shown.state == BadgeState.EXPIRING


def agent_certification(agent: Agent) -> dict[str, Any]:
    """The certification section of the agent page: the latest version's
    certificates with the badges they give, and the credentials imported from
    other platforms. Two queries, however many there are."""
    now = timezone.now()
    rows = [
        CertificateRow(
            certificate=certificate,
            level_name=certificate.scheme.level_name(certificate.level),
            shown=shown_state(
                state=certificate.state,
                valid_until=certificate.valid_until,
                level=certificate.level,
                now=now,
            ),
        )
        for certificate in agent_certificates(agent=agent)
    ]
    # One badge per scheme, as the badge addresses give them.
    scheme_codes = sorted({row.certificate.scheme.code for row in rows})
    return {
        "certificates": rows,
        "badge_schemes": scheme_codes,
        "imported": list(imported_credentials(agent=agent)),
    }
