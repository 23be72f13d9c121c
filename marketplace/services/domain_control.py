"""An organisation proves that it controls a web domain.

Owners and administrators claim a domain; the claim gets a fresh random token. They
publish the token in either of two places and ask for a check (a Celery task):

- a DNS TXT record at ``_agentstore-challenge.<domain>`` whose value is
  ``agentstore-verification=<token>`` (a dedicated label, as ACME's
  ``_acme-challenge`` does, so the record sits apart from the domain's own TXT
  records such as SPF);
- a file at ``https://<domain>/.well-known/agentstore-verification.txt`` whose first
  line is the token, answered with 200 (redirects are not followed).

Either one passing verifies the claim. The check runs outside any transaction and
records its outcome with a compare-and-set on the (domain, token) it checked, so a
claim changed in the meantime is never verified with the old token. The file is
fetched from an address checked to be public (``marketplace.netguard``), within one
deadline for the whole fetch. The database holds at most one verified claim per
domain; a beat job checks verified claims again every DOMAIN_RECHECK_DAYS, so that a
domain that changed hands is freed for its new holder.

The audit trail: DOMAIN_CLAIMED on every new claim, DOMAIN_VERIFIED when a claim
becomes verified, DOMAIN_CHECK_FAILED only when a check's outcome differs from the
previous one (a new reason, or a verification withdrawn), so that pressing "check"
ten times while the record is missing leaves one row, not ten. A definitive failure
of a verified claim (the record and the file are gone) withdraws the verification; a
transient one (a timeout, a failing name server, a check that did not finish) never
does, and the task retries.

Failure reasons are stored as short codes (``txt_missing http_status:404``) and
translated when shown (``domain_check_reasons``).
"""

import http.client
import ipaddress
import re
import secrets
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import dns.exception
import dns.name
import dns.nameserver
import dns.rdtypes.ANY.TXT
import dns.resolver
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_stubs_ext import StrOrPromise

from marketplace import netguard
from marketplace.exceptions import (
    ApplicationError,
    Conflict,
    DomainCheckTooSoon,
    PermissionDenied,
)
from marketplace.models import Organization, OrganizationEvent, User
from marketplace.selectors.organizations import organization_can_manage

CHALLENGE_LABEL: Final = "_agentstore-challenge"
TXT_PREFIX: Final = "agentstore-verification="
WELL_KNOWN_PATH: Final = "/.well-known/agentstore-verification.txt"
# A check asked for this recently is not asked again.
CHECK_COOLDOWN: Final = timedelta(seconds=15)
# A re-check of a verified domain enqueued this recently is not enqueued again, even
# if it has not recorded an outcome yet (a lost task is enqueued again after it).
RECHECK_GRACE: Final = timedelta(hours=1)
# How much of the proof file is read: its first line is a token of 43 characters.
FILE_READ_LIMIT: Final = 4096

# Names that are never public host names (RFC 2606, 6761, 6762, 8375, 9476) and
# suffixes in common use on private networks.
_RESERVED_SUFFIXES: Final = frozenset(
    {
        "localhost",
        "local",
        "localdomain",
        "test",
        "example",
        "invalid",
        "onion",
        "alt",
        "arpa",
        "internal",
        "intranet",
        "lan",
        "home",
        "corp",
        "private",
    }
)
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

Action = OrganizationEvent.Action


# --- The domain name --------------------------------------------------------------


def _invalid(message: StrOrPromise) -> ApplicationError:
    text = str(message)
    return ApplicationError(text, code="invalid_domain", details={"domain": [text]})


def normalise_domain(value: str) -> str:
    """The domain as stored: lower case, IDNA-encoded (``xn--`` labels), without
    scheme, user, port, path or trailing dot. Raises ApplicationError (on the field
    ``domain``) for anything that is not a registrable public host name."""
    text = value.strip().lower()
    if not text:
        raise _invalid(_("Give a domain, such as example.com."))
    if len(text) > 300:
        raise _invalid(_("A domain has at most 253 characters."))
    # Accept a pasted address (https://www.example.com/about) as its host name.
    if "://" in text:
        text = text.split("://", 1)[1]
    text = re.split(r"[/?#]", text, maxsplit=1)[0]
    if "@" in text:
        raise _invalid(_("Give the domain only, without a user name."))
    if text.startswith("["):
        raise _invalid(_("Give a domain name, not an IP address."))
    host, _colon, port = text.partition(":")
    if port and not port.isdigit():
        raise _invalid(_("A domain name has only letters, digits, hyphens and dots."))
    host = host.replace("\u3002", ".").replace("\uff0e", ".").replace("\uff61", ".")
    host = host.removesuffix(".")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise _invalid(_("Give a domain name, not an IP address."))
    if any(not label for label in host.split(".")):
        raise _invalid(_("A domain name has no empty parts (two dots in a row)."))
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise _invalid(
            _(
                "This is not a valid domain name: each part between dots has 1 to "
                "63 letters, digits or hyphens."
            )
        ) from None
    ascii_host = ascii_host.lower()
    labels = ascii_host.split(".")
    if len(ascii_host) > 253:
        raise _invalid(_("A domain has at most 253 characters."))
    if len(ascii_host) > MAX_DOMAIN_LENGTH:
        raise _invalid(
            _(
                "This domain is too long to prove: the record name "
                "%(label)s.<domain> would have more than 253 characters. Use a "
                "domain of at most %(limit)s characters."
            )
            % {"label": CHALLENGE_LABEL, "limit": MAX_DOMAIN_LENGTH}
        )
    if len(labels) < 2:
        raise _invalid(
            _("Give the full domain name with its top-level domain, such as .com.")
        )
    for label in labels:
        if len(label) > 63:
            raise _invalid(_("Each part of a domain name has at most 63 characters."))
        if not _LABEL.match(label):
            raise _invalid(
                _(
                    "A domain name has only letters, digits, hyphens and dots, and "
                    "no part starts or ends with a hyphen."
                )
            )
    if labels[-1].isdigit():
        raise _invalid(_("Give a domain name, not an IP address."))
    if labels[-1] in _RESERVED_SUFFIXES:
        raise _invalid(
            _("%(domain)s is not a public domain name.") % {"domain": ascii_host}
        )
    return ascii_host


def domain_display(domain: str) -> str:
    """The domain as people read it: ``xn--`` labels shown in their own script."""
    try:
        return domain.encode("ascii").decode("idna")
    except UnicodeError:
        return domain


def challenge_name(domain: str) -> str:
    return f"{CHALLENGE_LABEL}.{domain}"


# The longest domain whose challenge name still fits in a DNS name (253 characters).
MAX_DOMAIN_LENGTH: Final = 253 - len(challenge_name(""))


@dataclass(frozen=True)
class DomainInstructions:
    """What to publish to prove control of the claimed domain: either one."""

    txt_name: str
    txt_value: str
    file_url: str
    file_content: str


def domain_instructions(*, organization: Organization) -> DomainInstructions | None:
    if not organization.domain or not organization.domain_token:
        return None
    return DomainInstructions(
        txt_name=challenge_name(organization.domain),
        txt_value=f"{TXT_PREFIX}{organization.domain_token}",
        file_url=f"https://{organization.domain}{WELL_KNOWN_PATH}",
        file_content=organization.domain_token,
    )


# --- Claims and requests ----------------------------------------------------------


def _require_manager(*, actor: User, organization: Organization) -> None:
    if not organization_can_manage(user=actor, organization=organization):
        raise PermissionDenied(
            _("Only owners and administrators can manage the organisation's domain.")
        )


def _taken(*, domain: str, organization_id: int) -> bool:
    return (
        Organization.objects.filter(domain=domain, domain_verified_at__isnull=False)
        .exclude(pk=organization_id)
        .exists()
    )


def _lock_claimants(*, domain: str, organization_id: int) -> None:
    """Lock the organisation and every other that claims the domain, in one order:
    two organisations claiming or verifying one name at once take turns."""
    claimants = {organization_id}
    claimants.update(
        Organization.objects.filter(domain=domain).values_list("pk", flat=True)
    )
    list(
        Organization.objects.select_for_update()
        .filter(pk__in=claimants)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@transaction.atomic
def organization_claim_domain(
    *, actor: User, organization: Organization, domain: str
) -> Organization:
    """Claim a domain for the organisation, with a fresh token. Claiming the domain
    already claimed changes nothing (its token and verification stay); another
    domain replaces the claim and withdraws its verification."""
    _require_manager(actor=actor, organization=organization)
    name = normalise_domain(domain)
    _lock_claimants(domain=name, organization_id=organization.pk)
    current = Organization.objects.get(pk=organization.pk)
    if current.domain == name:
        return current
    if _taken(domain=name, organization_id=current.pk):
        message = _("Another organisation has proved that it controls %(domain)s.") % {
            "domain": name
        }
        raise Conflict(message, code="domain_taken", details={"domain": [message]})
    Organization.objects.filter(pk=current.pk).update(
        domain=name,
        domain_token=secrets.token_urlsafe(32),
        domain_verified_at=None,
        domain_checked_at=None,
        domain_check_error="",
    )
    OrganizationEvent.objects.create(
        organization=current,
        actor=actor,
        action=Action.DOMAIN_CLAIMED,
        payload={"domain": name, "previous": current.domain},
    )
    current.refresh_from_db()
    return current


def _enqueue_check(*, organization_id: int, requested_by_id: int | None) -> None:
    from marketplace.tasks import organization_check_domain as check_task

    check_task.delay_on_commit(
        organization_id=organization_id, requested_by_id=requested_by_id
    )


@transaction.atomic
def organization_request_domain_check(
    *, actor: User, organization: Organization
) -> None:
    """Ask for the claimed domain to be checked, in the background, once the
    transaction commits. The check records its outcome and its event."""
    _require_manager(actor=actor, organization=organization)
    current = Organization.objects.get(pk=organization.pk)
    if not current.domain:
        raise Conflict(_("Claim a domain first."), code="no_domain")
    # The cooldown is a compare-and-set on the organisation's row, so that it holds
    # across web processes (and without a shared cache): of two requests at once,
    # one updates the row and the other finds it updated.
    now = timezone.now()
    asked = (
        Organization.objects.filter(pk=current.pk)
        .filter(
            Q(domain_check_requested_at__isnull=True)
            | Q(domain_check_requested_at__lte=now - CHECK_COOLDOWN)
        )
        .update(domain_check_requested_at=now)
    )
    if not asked:
        raise DomainCheckTooSoon(
            _("A check was asked for moments ago. Wait a few seconds and try again.")
        )
    _enqueue_check(organization_id=current.pk, requested_by_id=actor.pk)


@transaction.atomic
def organization_domain_recheck_due(*, limit: int | None = None) -> int:
    """Enqueue a check of the verified domains last checked more than
    DOMAIN_RECHECK_DAYS ago, the longest unchecked first, at most ``limit``
    (DOMAIN_RECHECK_BATCH) per run. A clear failure of such a check withdraws the
    verification and frees the domain for another claimant. Returns how many were
    enqueued."""
    now = timezone.now()
    batch = limit or settings.DOMAIN_RECHECK_BATCH
    stale = now - timedelta(days=settings.DOMAIN_RECHECK_DAYS)
    due = list(
        Organization.objects.select_for_update(skip_locked=True)
        .filter(domain_verified_at__isnull=False)
        .filter(Q(domain_checked_at__isnull=True) | Q(domain_checked_at__lt=stale))
        .filter(
            Q(domain_check_requested_at__isnull=True)
            | Q(domain_check_requested_at__lt=now - RECHECK_GRACE)
        )
        .order_by(F("domain_checked_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)[:batch]
    )
    Organization.objects.filter(pk__in=due).update(domain_check_requested_at=now)
    for organization_id in due:
        _enqueue_check(organization_id=organization_id, requested_by_id=None)
    return len(due)


# --- The check --------------------------------------------------------------------

# Reasons a retry may cure: the task tries again later, and a verified claim keeps
# its verification meanwhile.
TRANSIENT_REASONS: Final = frozenset(
    {"dns_timeout", "dns_error", "http_timeout", "check_timeout", "check_failed"}
)


@dataclass(frozen=True)
class DomainCheck:
    verified: bool
    method: str  # "dns" or "http" when verified
    reasons: tuple[str, ...]  # codes, when not

    @property
    def transient(self) -> bool:
        return not self.verified and any(
            reason.partition(":")[0] in TRANSIENT_REASONS for reason in self.reasons
        )


def _nameserver(text: str) -> dns.nameserver.Do53Nameserver:
    """A name server from the setting: "ip", "ip:port" or "[ipv6]:port"."""
    value = text.strip()
    if value.startswith("["):
        host, _bracket, rest = value[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif value.count(":") == 1:
        host, port = value.split(":")
    else:
        host, port = value, "53"
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        number = 0
    if not 0 < number < 65536:
        raise ImproperlyConfigured(
            f"DOMAIN_CHECK_NAMESERVERS: {text!r} is not an IP address with an "
            "optional port"
        )
    return dns.nameserver.Do53Nameserver(host, number)


def _resolver() -> dns.resolver.Resolver:
    servers = settings.DOMAIN_CHECK_NAMESERVERS
    resolver = dns.resolver.Resolver(configure=not servers)
    if servers:
        resolver.nameservers = [_nameserver(server) for server in servers]
    resolver.timeout = resolver.lifetime = float(settings.DOMAIN_CHECK_TIMEOUT)
    return resolver


def _check_txt(resolver: dns.resolver.Resolver, *, domain: str, token: str) -> str:
    """ "" when the TXT record holds the token, else the reason."""
    try:
        answer = resolver.resolve(challenge_name(domain), "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return "txt_missing"
    except dns.name.NameTooLong:
        # A claim made before such domains were refused: no record can exist at a
        # name that long, and asking again will not change that.
        return "txt_missing"
    except dns.exception.Timeout:
        return "dns_timeout"
    except dns.exception.DNSException:
        return "dns_error"
    values = {
        b"".join(record.strings).decode("utf-8", "replace").strip()
        for record in answer
        if isinstance(record, dns.rdtypes.ANY.TXT.TXT)
    }
    return "" if f"{TXT_PREFIX}{token}" in values else "txt_mismatch"


def _addresses(
    resolver: dns.resolver.Resolver, *, domain: str
) -> tuple[list[str], str]:
    """The domain's IPv4 and IPv6 addresses, or the reason there are none."""
    addresses: list[str] = []
    reason = "no_address"
    for rdtype in ("A", "AAAA"):
        try:
            answer = resolver.resolve(domain, rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            continue
        except dns.exception.Timeout:
            reason = "dns_timeout"
            continue
        except dns.exception.DNSException:
            reason = "dns_error"
            continue
        addresses.extend(record.to_text() for record in answer)
    return addresses, "" if addresses else reason


def _read_first_line(response: http.client.HTTPResponse) -> bytes:
    """The body up to its first line break, reading at most FILE_READ_LIMIT bytes
    (each read stops at the connection's deadline)."""
    body = b""
    while len(body) < FILE_READ_LIMIT and b"\n" not in body:
        chunk = response.read1(FILE_READ_LIMIT - len(body))
        if not chunk:
            break
        body += chunk
    return body.split(b"\n", 1)[0]


def _fetch_file(*, domain: str, addresses: list[str], token: str) -> str:
    """ "" when the file's first line is the token, else the reason. The whole
    fetch (connecting, TLS, the request, the headers and the body) has
    DOMAIN_CHECK_TIMEOUT seconds."""
    scheme = settings.DOMAIN_CHECK_HTTP_SCHEME
    port = settings.DOMAIN_CHECK_HTTP_PORT or (443 if scheme == "https" else 80)
    connection = netguard.pinned_connection(
        scheme=scheme,
        host=domain,
        port=port,
        addresses=addresses,
        deadline=netguard.Deadline(float(settings.DOMAIN_CHECK_TIMEOUT)),
    )
    try:
        connection.request(
            "GET",
            WELL_KNOWN_PATH,
            headers={"User-Agent": "AgentStore-DomainCheck/1", "Accept": "text/plain"},
        )
        response = connection.getresponse()
        if 300 <= response.status < 400:
            return f"http_redirect:{response.status}"
        if response.status != 200:
            return f"http_status:{response.status}"
        first_line = _read_first_line(response)
    except TimeoutError:
        return "http_timeout"
    except ssl.SSLError:
        return "http_tls"
    except (OSError, http.client.HTTPException):
        return "http_unreachable"
    finally:
        connection.close()
    found = first_line.decode("utf-8", "replace").strip().removeprefix("\ufeff")
    return "" if found == token else "http_mismatch"


def _check_file(resolver: dns.resolver.Resolver, *, domain: str, token: str) -> str:
    addresses, reason = _addresses(resolver, domain=domain)
    if reason:
        return reason
    if not settings.DOMAIN_CHECK_ALLOW_PRIVATE and not all(
        map(netguard.address_allowed, addresses)
    ):
        return "address_not_allowed"
    # The connection goes to an address checked here (a second one when the first
    # refuses), never to what the name resolves to a moment later.
    return _fetch_file(domain=domain, addresses=addresses[:2], token=token)


def domain_probe(*, domain: str, token: str) -> DomainCheck:
    """Look for the token in the TXT record, then in the file. Reads nothing from
    and writes nothing to the database."""
    try:
        resolver = _resolver()
    except dns.exception.DNSException:
        return DomainCheck(verified=False, method="", reasons=("dns_error",))
    txt = _check_txt(resolver, domain=domain, token=token)
    if not txt:
        return DomainCheck(verified=True, method="dns", reasons=())
    file = _check_file(resolver, domain=domain, token=token)
    if not file:
        return DomainCheck(verified=True, method="http", reasons=())
    return DomainCheck(
        verified=False, method="", reasons=tuple(dict.fromkeys((txt, file)))
    )


def _current_claim(organization_id: int) -> tuple[str, str] | None:
    """The domain and token the organisation claims now, if any."""
    return (
        Organization.objects.filter(pk=organization_id)
        .exclude(domain="")
        .values_list("domain", "domain_token")
        .first()
    )


def organization_check_domain(
    *, organization_id: int, requested_by_id: int | None = None
) -> DomainCheck | None:
    """Check the organisation's claim and record the outcome. Returns None when
    there is nothing to check or the claim changed while it was being checked."""
    claim = _current_claim(organization_id)
    if claim is None:
        return None
    domain, token = claim
    # The network waits happen outside any transaction. When the task's soft time
    # limit interrupts them, the outcome for this claim is recorded all the same (a
    # transient one, which keeps a verification), before the hard limit.
    try:
        result = domain_probe(domain=domain, token=token)
    except SoftTimeLimitExceeded:
        result = DomainCheck(verified=False, method="", reasons=("check_timeout",))
    return _record(
        organization_id=organization_id,
        domain=domain,
        token=token,
        result=result,
        requested_by_id=requested_by_id,
    )


@transaction.atomic
def _record(
    *,
    organization_id: int,
    domain: str,
    token: str,
    result: DomainCheck,
    requested_by_id: int | None,
) -> DomainCheck | None:
    _lock_claimants(domain=domain, organization_id=organization_id)
    claim = Organization.objects.filter(
        pk=organization_id, domain=domain, domain_token=token
    )
    organization = claim.first()
    if organization is None:
        return None  # claimed anew (or released) meanwhile: this outcome is stale
    if result.verified and _taken(domain=domain, organization_id=organization_id):
        result = _TAKEN
    now = timezone.now()
    outcome = _outcome(organization=organization, result=result, now=now)
    try:
        # Compare-and-set: the claim is still the one that was checked. The
        # database allows one verified claim per domain, whatever the locks missed.
        with transaction.atomic():
            claim.update(**outcome.fields)
    except IntegrityError:
        result = _TAKEN
        outcome = _outcome(organization=organization, result=result, now=now)
        claim.update(**outcome.fields)
    if outcome.action:
        actor = (
            User.objects.filter(pk=requested_by_id).first() if requested_by_id else None
        )
        OrganizationEvent.objects.create(
            organization=organization,
            actor=actor,
            action=outcome.action,
            payload=outcome.payload,
        )
    return result


_TAKEN: Final = DomainCheck(verified=False, method="", reasons=("domain_taken",))


@dataclass(frozen=True)
class _Outcome:
    fields: dict[str, object]  # the organisation's columns to update
    action: str | None  # the event to write, if any
    payload: dict[str, object]


def _outcome(
    *, organization: Organization, result: DomainCheck, now: datetime
) -> _Outcome:
    error = " ".join(result.reasons)
    was_verified = organization.domain_verified_at is not None
    verified_at = organization.domain_verified_at
    action: str | None = None
    payload: dict[str, object] = {"domain": organization.domain}
    if result.verified:
        if not was_verified:
            verified_at = now
            action = Action.DOMAIN_VERIFIED
            payload["method"] = result.method
    else:
        withdrawn = was_verified and not result.transient
        if withdrawn:
            verified_at = None
        if withdrawn or error != organization.domain_check_error:
            action = Action.DOMAIN_CHECK_FAILED
            payload.update(reasons=list(result.reasons), withdrawn=withdrawn)
    return _Outcome(
        fields={
            "domain_checked_at": now,
            "domain_check_error": error,
            "domain_verified_at": verified_at,
        },
        action=action,
        payload=payload,
    )


def organization_domain_check_failed(*, organization_id: int) -> DomainCheck | None:
    """Record that a check of the organisation's current claim ended without an
    outcome (its task failed for good), so that its owners see that, not the
    previous result. A verification is kept: nothing was shown to be wrong."""
    claim = _current_claim(organization_id)
    if claim is None:
        return None
    domain, token = claim
    return _record(
        organization_id=organization_id,
        domain=domain,
        token=token,
        result=DomainCheck(verified=False, method="", reasons=("check_failed",)),
        requested_by_id=None,
    )


# --- Showing the outcome ----------------------------------------------------------

_REASONS: Final[dict[str, StrOrPromise]] = {
    "txt_missing": gettext_lazy("DNS: there is no TXT record at %(name)s."),
    "txt_mismatch": gettext_lazy(
        "DNS: the TXT record at %(name)s does not hold this token."
    ),
    "dns_timeout": gettext_lazy("DNS: the name servers did not answer in time."),
    "dns_error": gettext_lazy("DNS: the look-up failed."),
    "no_address": gettext_lazy(
        "File: %(domain)s has no address (no A or AAAA record)."
    ),
    "address_not_allowed": gettext_lazy(
        "File: %(domain)s points to a private or local network address, which is "
        "not checked."
    ),
    "http_timeout": gettext_lazy("File: the web server did not answer in time."),
    "http_unreachable": gettext_lazy("File: the web server could not be reached."),
    "http_tls": gettext_lazy(
        "File: the HTTPS connection failed; is the certificate valid for %(domain)s?"
    ),
    "http_redirect": gettext_lazy(
        "File: the web server answered with a redirect (HTTP %(status)s); "
        "redirects are not followed."
    ),
    "http_status": gettext_lazy("File: the web server answered HTTP %(status)s."),
    "http_mismatch": gettext_lazy(
        "File: the first line of the file is not this token."
    ),
    "domain_taken": gettext_lazy(
        "Another organisation has proved that it controls this domain."
    ),
    "check_timeout": gettext_lazy("The check took too long and was stopped."),
    "check_failed": gettext_lazy(
        "The check could not be completed. Ask for another check later."
    ),
}


def domain_check_reasons(*, organization: Organization) -> list[str]:
    """The last check's reasons for failing, in the active language."""
    reasons = []
    for item in organization.domain_check_error.split():
        code, _colon, value = item.partition(":")
        message = _REASONS.get(code)
        if message is None:
            reasons.append(item)
            continue
        reasons.append(
            str(message)
            % {
                "name": challenge_name(organization.domain),
                "domain": organization.domain,
                "status": value,
            }
        )
    return reasons
