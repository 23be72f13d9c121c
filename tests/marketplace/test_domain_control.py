"""Proof of control of a web domain, checked against a real DNS server and a real web
server on 127.0.0.1."""

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from marketplace.exceptions import (
    ApplicationError,
    Conflict,
    DomainCheckTooSoon,
    PermissionDenied,
)
from marketplace.models import Membership, Organization, OrganizationEvent, User
from marketplace.services import domain_control
from marketplace.services.domain_control import (
    CHECK_COOLDOWN,
    challenge_name,
    normalise_domain,
    organization_check_domain,
    organization_claim_domain,
    organization_domain_recheck_due,
    organization_request_domain_check,
)
from marketplace.tasks import organization_check_domain as check_task
from marketplace.tasks import organization_domain_recheck_due as recheck_task
from tests.marketplace.factories import (
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.slow_server import DRIPPING_BODY, DRIPPING_HEADERS, slow_server
from tests.worker import celery_worker, wait_for

pytestmark = pytest.mark.django_db

Role = Membership.Role
Action = OrganizationEvent.Action
DOMAIN = "mingde-ai.cn"
FILE_PATH = "/.well-known/agentstore-verification.txt"


# --- A DNS server and a web server on 127.0.0.1 -----------------------------------


@dataclass
class Zone:
    """What the test DNS server answers: (name, type) → values in zone-file
    syntax. A name with no record of the asked type answers NOERROR with no data,
    an unknown name NXDOMAIN; ``silent`` drops every query."""

    records: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    silent: bool = False
    queries: list[tuple[str, str]] = field(default_factory=list)

    def txt(self, name: str, value: str) -> None:
        self.records.setdefault((name, "TXT"), []).append(f'"{value}"')

    def a(self, name: str, address: str = "127.0.0.1") -> None:
        self.records.setdefault((name, "A"), []).append(address)

    def answer(self, wire: bytes) -> bytes | None:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        if self.silent:
            return None
        values = self.records.get((name, rdtype))
        if values:
            response.answer.append(
                dns.rrset.from_text_list(question.name, 60, "IN", rdtype, values)
            )
        elif not any(known == name for known, _type in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()


@pytest.fixture
def zone(settings: Any) -> Iterator[Zone]:
    zone = Zone()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            reply = zone.answer(wire)
            if reply is not None:
                sock.sendto(reply, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    settings.DOMAIN_CHECK_NAMESERVERS = [f"127.0.0.1:{sock.getsockname()[1]}"]
    yield zone
    stop.set()
    thread.join()
    sock.close()


@dataclass
class Site:
    """What the test web server answers: path → (status, headers, body)."""

    port: int = 0
    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (host, path)

    def file(self, body: str, status: int = 200) -> None:
        self.routes[FILE_PATH] = (status, {"Content-Type": "text/plain"}, body.encode())


class _Handler(BaseHTTPRequestHandler):
    server: "_SiteServer"

    def do_GET(self) -> None:
        site = self.server.site
        site.requests.append((self.headers.get("Host", ""), self.path))
        status, headers, body = site.routes.get(self.path, (404, {}, b"not here"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _SiteServer(ThreadingHTTPServer):
    site: Site


@pytest.fixture
def site(settings: Any) -> Iterator[Site]:
    server = _SiteServer(("127.0.0.1", 0), _Handler)
    server.site = Site(port=server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.DOMAIN_CHECK_HTTP_PORT = server.site.port
    yield server.site
    server.shutdown()
    server.server_close()


def _claimed(domain: str = DOMAIN, role: str = Role.OWNER) -> Membership:
    manager = MembershipFactory.create(role=role)
    organization_claim_domain(
        actor=manager.user, organization=manager.organization, domain=domain
    )
    manager.organization.refresh_from_db()
    return manager


def _events(organization: Organization, action: str) -> list[OrganizationEvent]:
    return list(organization.events.filter(action=action).order_by("pk"))


# --- The domain name ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Example.COM", "example.com"),
        ("  mingde-ai.cn  ", "mingde-ai.cn"),
        ("https://www.Example.com:8443/about?x=1#top", "www.example.com"),
        ("www.example.com/path", "www.example.com"),
        ("example.com.", "example.com"),
        ("中文.com", "xn--fiq228c.com"),
        ("例子。中国", "xn--fsqu00a.xn--fiqs8s"),
        ("Bücher.DE", "xn--bcher-kva.de"),
        ("xn--fiq228c.com", "xn--fiq228c.com"),
        ("a1-b2.co.uk", "a1-b2.co.uk"),
    ],
)
def test_a_domain_is_normalised(given: str, stored: str) -> None:
    assert normalise_domain(given) == stored


@pytest.mark.parametrize(
    "given",
    [
        "",
        "   ",
        "localhost",
        "intranet",
        "printer.local",
        "api.localhost",
        "shop.test",
        "corp.internal",
        "1.2.3.4",
        "192.168.1.10",
        "https://10.0.0.1/admin",
        "::1",
        "[2001:db8::1]",
        "[2001:db8::1]:443",
        "example.com:http",
        "user@example.com",
        "exa_mple.com",
        "ex ample.com",
        "-start.com",
        "end-.com",
        "double..dot.com",
        ".example.com",
        "example.123",
        "a" * 64 + ".com",
        ".".join(["a" * 60] * 5) + ".com",
        "example.com/" + "x" * 400,
        "例子\x00.com",
        "bad*name.com",
    ],
)
def test_bad_domains_are_refused_on_the_field(given: str) -> None:
    with pytest.raises(ApplicationError) as caught:
        normalise_domain(given)
    assert caught.value.code == "invalid_domain"
    assert caught.value.details["domain"]


# --- Claims -----------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_owners_and_administrators_claim_a_domain(role: str) -> None:
    # given
    manager = MembershipFactory.create(role=role)
    # when
    organization = organization_claim_domain(
        actor=manager.user, organization=manager.organization, domain="Mingde-AI.cn"
    )
    # then
    assert organization.domain == DOMAIN
    assert len(organization.domain_token) >= 40
    assert organization.domain_verified_at is None
    (event,) = _events(organization, Action.DOMAIN_CLAIMED)
    assert event.actor == manager.user
    assert event.payload == {"domain": DOMAIN, "previous": ""}


def test_members_non_members_and_other_organisations_cannot_claim() -> None:
    # given
    member = MembershipFactory.create(role=Role.MEMBER)
    organization = member.organization
    outsider = UserFactory.create()
    other_owner = MembershipFactory.create(role=Role.OWNER)
    # when / then
    for actor in (member.user, outsider, other_owner.user):
        with pytest.raises(PermissionDenied):
            organization_claim_domain(
                actor=actor, organization=organization, domain=DOMAIN
            )
    organization.refresh_from_db()
    assert organization.domain == ""
    assert not _events(organization, Action.DOMAIN_CLAIMED)


def test_a_denied_actor_learns_nothing_about_the_domain_rules() -> None:
    member = MembershipFactory.create(role=Role.MEMBER)
    with pytest.raises(PermissionDenied):
        organization_claim_domain(
            actor=member.user, organization=member.organization, domain="localhost"
        )


def test_claiming_the_same_domain_again_keeps_the_claim_and_another_resets_it(
    zone: Zone,
) -> None:
    # given: a verified claim
    owner = _claimed()
    organization = owner.organization
    zone.txt(
        f"_agentstore-challenge.{DOMAIN}",
        f"agentstore-verification={organization.domain_token}",
    )
    organization_check_domain(organization_id=organization.pk)
    organization.refresh_from_db()
    token = organization.domain_token
    assert organization.domain_verified_at is not None
    # when: the same domain, written differently
    again = organization_claim_domain(
        actor=owner.user, organization=organization, domain="https://MINGDE-AI.cn/"
    )
    # then: nothing changed
    assert (again.domain_token, again.domain_verified_at) == (
        token,
        organization.domain_verified_at,
    )
    assert len(_events(organization, Action.DOMAIN_CLAIMED)) == 1
    # when: another domain
    moved = organization_claim_domain(
        actor=owner.user, organization=organization, domain="mingde.com.cn"
    )
    # then: a new token, and the verification is gone
    assert moved.domain == "mingde.com.cn"
    assert moved.domain_token != token
    assert moved.domain_verified_at is None
    assert moved.domain_checked_at is None
    assert _events(organization, Action.DOMAIN_CLAIMED)[-1].payload == {
        "domain": "mingde.com.cn",
        "previous": DOMAIN,
    }


def test_another_organisations_verified_domain_cannot_be_claimed() -> None:
    # given
    holder = _claimed()
    Organization.objects.filter(pk=holder.organization_id).update(
        domain_verified_at="2026-01-01T00:00:00Z"
    )
    newcomer = MembershipFactory.create(role=Role.OWNER)
    # when
    with pytest.raises(Conflict) as caught:
        organization_claim_domain(
            actor=newcomer.user, organization=newcomer.organization, domain=DOMAIN
        )
    # then
    assert caught.value.code == "domain_taken"
    assert DOMAIN in caught.value.details["domain"][0]
    newcomer.organization.refresh_from_db()
    assert newcomer.organization.domain == ""


def test_an_unverified_claim_blocks_no_one() -> None:
    _claimed()
    newcomer = MembershipFactory.create(role=Role.OWNER)
    organization = organization_claim_domain(
        actor=newcomer.user, organization=newcomer.organization, domain=DOMAIN
    )
    assert organization.domain == DOMAIN


# --- The file on the web site -------------------------------------------------------


def test_the_file_with_the_token_verifies_the_domain(zone: Zone, site: Site) -> None:
    # given
    owner = _claimed()
    organization = owner.organization
    zone.a(DOMAIN)
    site.file(f"{organization.domain_token}\nanything after the first line\n")
    # when
    result = organization_check_domain(
        organization_id=organization.pk, requested_by_id=owner.user.pk
    )
    # then
    assert result is not None
    assert (result.verified, result.method) == (True, "http")
    organization.refresh_from_db()
    assert organization.domain_verified_at is not None
    assert organization.domain_checked_at is not None
    assert organization.domain_check_error == ""
    (event,) = _events(organization, Action.DOMAIN_VERIFIED)
    assert event.actor == owner.user
    assert event.payload == {"domain": DOMAIN, "method": "http"}
    # the request went to the checked address, for the domain
    assert site.requests == [(f"{DOMAIN}:{site.port}", FILE_PATH)]


@pytest.mark.parametrize(
    ("route", "reason", "message"),
    [
        ((200, {}, b"not-the-token\n"), "http_mismatch", "first line"),
        ((200, {}, b""), "http_mismatch", "first line"),
        ((404, {}, b"missing"), "http_status:404", "HTTP 404"),
        ((500, {}, b"boom"), "http_status:500", "HTTP 500"),
        (
            (301, {"Location": "/elsewhere"}, b""),
            "http_redirect:301",
            "redirects are not followed",
        ),
    ],
)
def test_a_wrong_or_missing_file_does_not_verify(
    zone: Zone,
    site: Site,
    route: tuple[int, dict[str, str], bytes],
    reason: str,
    message: str,
) -> None:
    # given
    organization = _claimed().organization
    zone.a(DOMAIN)
    site.routes[FILE_PATH] = route
    # the redirect's target holds the right token, and is never fetched
    site.routes["/elsewhere"] = (200, {}, organization.domain_token.encode())
    # when
    result = organization_check_domain(organization_id=organization.pk)
    # then
    assert result is not None
    assert not result.verified
    assert result.reasons == ("txt_missing", reason)
    organization.refresh_from_db()
    assert organization.domain_verified_at is None
    assert organization.domain_check_error == f"txt_missing {reason}"
    reasons = domain_control.domain_check_reasons(organization=organization)
    assert "no TXT record at _agentstore-challenge.mingde-ai.cn" in reasons[0]
    assert message in reasons[1]
    assert [path for _host, path in site.requests] == [FILE_PATH]
    (event,) = _events(organization, Action.DOMAIN_CHECK_FAILED)
    assert event.payload["reasons"] == ["txt_missing", reason]


def test_only_the_first_line_of_a_small_body_is_read(zone: Zone, site: Site) -> None:
    organization = _claimed().organization
    zone.a(DOMAIN)
    site.routes[FILE_PATH] = (200, {}, b"x" * 100_000)
    result = organization_check_domain(organization_id=organization.pk)
    assert result is not None
    assert result.reasons[-1] == "http_mismatch"


def test_a_domain_on_a_private_address_is_not_fetched(
    zone: Zone, site: Site, settings: Any
) -> None:
    # given: the file is right, but the domain points to this machine
    settings.DOMAIN_CHECK_ALLOW_PRIVATE = False
    organization = _claimed().organization
    zone.a(DOMAIN, "127.0.0.1")
    site.file(organization.domain_token)
    # when
    result = organization_check_domain(organization_id=organization.pk)
    # then
    assert result is not None
    assert result.reasons == ("txt_missing", "address_not_allowed")
    assert site.requests == []


def test_the_file_is_fetched_over_https_only_in_production(
    zone: Zone, site: Site, settings: Any
) -> None:
    # given: production's scheme, and a web server that speaks plain http
    settings.DOMAIN_CHECK_HTTP_SCHEME = "https"
    organization = _claimed().organization
    zone.a(DOMAIN)
    site.file(organization.domain_token)
    # when
    result = organization_check_domain(organization_id=organization.pk)
    # then
    assert result is not None
    assert not result.verified
    assert result.reasons == ("txt_missing", "http_tls")


def test_a_domain_without_an_address_says_so(zone: Zone) -> None:
    organization = _claimed().organization
    zone.txt("other.cn", "unrelated")
    result = organization_check_domain(organization_id=organization.pk)
    assert result is not None
    assert result.reasons == ("txt_missing", "no_address")


# --- The DNS record ---------------------------------------------------------------


def test_the_txt_record_with_the_token_verifies_the_domain(zone: Zone) -> None:
    # given: the right value among others at the challenge name
    owner = _claimed()
    organization = owner.organization
    name = f"_agentstore-challenge.{DOMAIN}"
    zone.txt(name, "v=spf1 -all")
    zone.txt(name, f"agentstore-verification={organization.domain_token}")
    # when
    result = check_task(organization_id=organization.pk)
    # then
    assert result is True
    organization.refresh_from_db()
    assert organization.domain_verified_at is not None
    (event,) = _events(organization, Action.DOMAIN_VERIFIED)
    assert event.payload["method"] == "dns"
    assert (name, "TXT") in zone.queries
    # checking again changes nothing and writes no second event
    assert check_task(organization_id=organization.pk) is True
    assert len(_events(organization, Action.DOMAIN_VERIFIED)) == 1


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "txt_missing"),
        ("agentstore-verification=not-the-token", "txt_mismatch"),
        ("the-token-without-its-prefix", "txt_mismatch"),
    ],
)
def test_a_missing_or_wrong_txt_record_does_not_verify(
    zone: Zone, value: str | None, reason: str
) -> None:
    # given
    organization = _claimed().organization
    name = f"_agentstore-challenge.{DOMAIN}"
    if value is not None:
        zone.txt(name, value.replace("the-token", organization.domain_token))
    # when
    result = organization_check_domain(organization_id=organization.pk)
    # then
    assert result is not None
    assert result.reasons == (reason, "no_address")
    organization.refresh_from_db()
    assert organization.domain_verified_at is None


def test_a_silent_name_server_is_a_transient_failure_that_keeps_a_verification(
    zone: Zone, settings: Any
) -> None:
    # given: a verified claim
    organization = _claimed().organization
    zone.txt(
        f"_agentstore-challenge.{DOMAIN}",
        f"agentstore-verification={organization.domain_token}",
    )
    organization_check_domain(organization_id=organization.pk)
    # when: the name server stops answering
    settings.DOMAIN_CHECK_TIMEOUT = 0.3
    zone.silent = True
    result = organization_check_domain(organization_id=organization.pk)
    # then
    assert result is not None
    assert result.reasons == ("dns_timeout",)
    assert result.transient
    organization.refresh_from_db()
    assert organization.domain_verified_at is not None
    assert organization.domain_check_error == "dns_timeout"
    (event,) = _events(organization, Action.DOMAIN_CHECK_FAILED)
    assert event.payload["withdrawn"] is False
    # the task, called directly, reports the outcome and does not retry
    assert check_task(organization_id=organization.pk) is False
    organization.refresh_from_db()
    assert organization.domain_verified_at is not None


def test_a_proof_that_is_gone_withdraws_the_verification(zone: Zone) -> None:
    # given: a verified claim
    organization = _claimed().organization
    name = f"_agentstore-challenge.{DOMAIN}"
    zone.txt(name, f"agentstore-verification={organization.domain_token}")
    organization_check_domain(organization_id=organization.pk)
    # when: the record is removed
    del zone.records[(name, "TXT")]
    organization_check_domain(organization_id=organization.pk)
    # then
    organization.refresh_from_db()
    assert organization.domain_verified_at is None
    (event,) = _events(organization, Action.DOMAIN_CHECK_FAILED)
    assert event.payload == {
        "domain": DOMAIN,
        "reasons": ["txt_missing", "no_address"],
        "withdrawn": True,
    }


def test_a_repeated_failure_writes_one_event_and_a_new_reason_another(
    zone: Zone, site: Site
) -> None:
    organization = _claimed().organization
    for _attempt in range(3):
        organization_check_domain(organization_id=organization.pk)
    assert len(_events(organization, Action.DOMAIN_CHECK_FAILED)) == 1
    zone.a(DOMAIN)
    site.file("wrong")
    organization_check_domain(organization_id=organization.pk)
    events = _events(organization, Action.DOMAIN_CHECK_FAILED)
    assert [event.payload["reasons"] for event in events] == [
        ["txt_missing", "no_address"],
        ["txt_missing", "http_mismatch"],
    ]


def test_a_domain_another_organisation_verified_meanwhile_is_not_verified(
    zone: Zone,
) -> None:
    # given: two organisations claim the domain, and both publish their tokens
    first, second = _claimed(), _claimed()
    name = f"_agentstore-challenge.{DOMAIN}"
    for manager in (first, second):
        zone.txt(name, f"agentstore-verification={manager.organization.domain_token}")
    # when
    organization_check_domain(organization_id=first.organization_id)
    result = organization_check_domain(organization_id=second.organization_id)
    # then
    assert result is not None
    assert result.reasons == ("domain_taken",)
    second.organization.refresh_from_db()
    assert second.organization.domain_verified_at is None


# --- Compare-and-set --------------------------------------------------------------


def test_a_claim_changed_during_the_check_is_not_verified(
    zone: Zone, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the old claim's record is in place
    owner = _claimed()
    organization = owner.organization
    old_token = organization.domain_token
    zone.txt(f"_agentstore-challenge.{DOMAIN}", f"agentstore-verification={old_token}")
    probe = domain_control.domain_probe

    def probe_then_reclaim(*, domain: str, token: str) -> domain_control.DomainCheck:
        result = probe(domain=domain, token=token)
        # the owner claims another domain while the check waits on the network
        organization_claim_domain(
            actor=owner.user, organization=organization, domain="mingde.com.cn"
        )
        return result

    monkeypatch.setattr(domain_control, "domain_probe", probe_then_reclaim)
    # when
    result = organization_check_domain(organization_id=organization.pk)
    # then: the outcome for the old claim is dropped
    assert result is None
    organization.refresh_from_db()
    assert organization.domain == "mingde.com.cn"
    assert organization.domain_token != old_token
    assert organization.domain_verified_at is None
    assert organization.domain_checked_at is None
    assert not _events(organization, Action.DOMAIN_VERIFIED)


def test_a_check_requested_before_a_new_claim_checks_the_new_claim(
    zone: Zone, django_capture_on_commit_callbacks: Any
) -> None:
    # given: a check is asked for, then the domain changes before it runs
    owner = _claimed()
    organization = owner.organization
    zone.txt(
        f"_agentstore-challenge.{DOMAIN}",
        f"agentstore-verification={organization.domain_token}",
    )
    with django_capture_on_commit_callbacks() as enqueued:
        organization_request_domain_check(actor=owner.user, organization=organization)
    assert len(enqueued) == 1
    organization_claim_domain(
        actor=owner.user, organization=organization, domain="mingde.com.cn"
    )
    # when
    verified = check_task(organization_id=organization.pk)
    # then: the old domain's record does not verify the new claim
    assert verified is False
    organization.refresh_from_db()
    assert organization.domain_verified_at is None
    assert organization.domain_check_error == "txt_missing no_address"


def test_a_check_of_nothing_does_nothing() -> None:
    organization = OrganizationFactory.create()
    assert check_task(organization_id=organization.pk) is None
    assert check_task(organization_id=0) is None


# --- Asking for a check -----------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_checks_the_domain(
    zone: Zone, settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The whole path: the request commits, the broker carries the task, a separate
    worker process asks the test DNS server and records the verification."""
    # given: the record is published, and the worker asks the same DNS server
    monkeypatch.setenv(
        "DOMAIN_CHECK_NAMESERVERS", ",".join(settings.DOMAIN_CHECK_NAMESERVERS)
    )
    owner = _claimed()
    organization = owner.organization
    zone.txt(
        f"_agentstore-challenge.{DOMAIN}",
        f"agentstore-verification={organization.domain_token}",
    )
    log = tmp_path / "worker.log"
    with celery_worker(log) as worker:
        # when
        organization_request_domain_check(actor=owner.user, organization=organization)
        # then
        wait_for(
            lambda: Organization.objects.filter(
                pk=organization.pk, domain_verified_at__isnull=False
            ).exists(),
            timeout=60,
            log=log,
        )
        assert worker.poll() is None
    assert "marketplace.organization_check_domain[" in log.read_text()
    (event,) = _events(organization, Action.DOMAIN_VERIFIED)
    assert event.actor == owner.user


def test_a_check_is_enqueued_on_commit_once_and_not_again_at_once(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given
    owner = _claimed()
    # when
    with django_capture_on_commit_callbacks() as enqueued:
        organization_request_domain_check(
            actor=owner.user, organization=owner.organization
        )
    # then
    assert len(enqueued) == 1
    with pytest.raises(DomainCheckTooSoon):
        organization_request_domain_check(
            actor=owner.user, organization=owner.organization
        )


def test_only_managers_ask_for_a_check_and_only_of_a_claim() -> None:
    owner = _claimed()
    member = MembershipFactory.create(organization=owner.organization)
    with pytest.raises(PermissionDenied):
        organization_request_domain_check(
            actor=member.user, organization=owner.organization
        )
    with pytest.raises(PermissionDenied):
        organization_request_domain_check(
            actor=UserFactory.create(), organization=owner.organization
        )
    unclaimed = MembershipFactory.create(role=Role.OWNER)
    with pytest.raises(Conflict):
        organization_request_domain_check(
            actor=unclaimed.user, organization=unclaimed.organization
        )


# --- Pages ------------------------------------------------------------------------


def _settings_url(organization: Organization) -> str:
    return reverse("organization-settings", args=[organization.slug])


def test_an_owner_claims_and_checks_a_domain_on_the_settings_page(
    client: Client,
    zone: Zone,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given
    owner = MembershipFactory.create(role=Role.OWNER)
    organization = owner.organization
    url = _settings_url(organization)
    client.force_login(owner.user)
    # when: a bad domain
    response = client.post(url, {"claim_domain": "1", "domain": "localhost"})
    # then
    assert response.status_code == 400
    assert response.context["domain_form"].errors["domain"]
    # when: a good one
    response = client.post(url, {"claim_domain": "1", "domain": "Mingde-AI.cn"})
    assert response.status_code == 302
    organization.refresh_from_db()
    html = client.get(url).content.decode()
    # then: the exact record and file to publish, and a check button
    assert f'value="_agentstore-challenge.{DOMAIN}"' in html
    assert f'value="agentstore-verification={organization.domain_token}"' in html
    assert f'value="https://{DOMAIN}{FILE_PATH}"' in html
    assert 'name="check_domain"' in html
    assert "Not checked yet." in html
    # when: the record is published and a check asked for
    zone.txt(
        f"_agentstore-challenge.{DOMAIN}",
        f"agentstore-verification={organization.domain_token}",
    )
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(check_task, "delay", lambda **kwargs: sent.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True) as enqueued:
        response = client.post(url, {"check_domain": "1"})
    assert response.status_code == 302
    assert len(enqueued) == 1
    assert sent == [
        {"organization_id": organization.pk, "requested_by_id": owner.user.pk}
    ]
    check_task(**sent[0])  # what the worker runs
    # then
    html = client.get(url).content.decode()
    assert "✓ Verified" in html
    assert "the proof was found." in html
    (event,) = _events(organization, Action.DOMAIN_VERIFIED)
    assert event.actor == owner.user


def test_the_settings_page_shows_why_a_check_failed(client: Client, zone: Zone) -> None:
    owner = _claimed()
    organization_check_domain(organization_id=owner.organization_id)
    client.force_login(owner.user)
    html = client.get(_settings_url(owner.organization)).content.decode()
    assert "the proof was not found." in html
    assert "there is no TXT record at _agentstore-challenge.mingde-ai.cn" in html
    assert "Not verified yet" in html


def test_a_check_asked_for_twice_at_once_says_wait(client: Client) -> None:
    owner = _claimed()
    client.force_login(owner.user)
    url = _settings_url(owner.organization)
    client.post(url, {"check_domain": "1"})
    response = client.post(url, {"check_domain": "1"}, follow=True)
    assert "Wait a few seconds" in response.content.decode()


def test_a_member_sees_the_domain_state_but_neither_token_nor_forms(
    client: Client,
) -> None:
    # given
    owner = _claimed()
    member = MembershipFactory.create(organization=owner.organization)
    url = _settings_url(owner.organization)
    client.force_login(member.user)
    # when
    html = client.get(url).content.decode()
    # then
    assert DOMAIN in html
    assert owner.organization.domain_token not in html
    assert 'name="claim_domain"' not in html
    assert 'name="check_domain"' not in html
    # and posting anyway is denied
    assert client.post(url, {"claim_domain": "1", "domain": "x.cn"}).status_code == 403
    assert client.post(url, {"check_domain": "1"}).status_code == 403
    owner.organization.refresh_from_db()
    assert owner.organization.domain == DOMAIN


def test_a_non_member_cannot_post_to_the_domain_section(client: Client) -> None:
    owner = _claimed()
    client.force_login(UserFactory.create())
    url = _settings_url(owner.organization)
    assert client.post(url, {"claim_domain": "1", "domain": "x.cn"}).status_code == 403
    assert client.post(url, {"check_domain": "1"}).status_code == 403


def test_the_public_page_shows_a_verified_domain_only(client: Client) -> None:
    # given: a claim, not yet verified
    owner = _claimed(domain="中文.com")
    url = reverse("organization-detail", args=[owner.organization.slug])
    assert "xn--fiq228c.com" not in client.get(url).content.decode()
    # when
    Organization.objects.filter(pk=owner.organization_id).update(
        domain_verified_at="2026-01-01T00:00:00Z"
    )
    html = client.get(url).content.decode()
    # then: in its own script and as encoded, with a mark in words
    assert "中文.com" in html
    assert "xn--fiq228c.com" in html
    assert "✓ Verified domain" in html


# --- API --------------------------------------------------------------------------


@pytest.fixture
def api() -> APIClient:
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


def _domain_url(organization: Organization, check: bool = False) -> str:
    return f"/api/v1/organizations/{organization.slug}/domain/" + (
        "check/" if check else ""
    )


def test_the_api_claims_a_domain_and_says_what_to_publish(api: APIClient) -> None:
    # given
    owner = MembershipFactory.create(role=Role.OWNER)
    api.force_authenticate(owner.user)
    # when
    response = api.put(
        _domain_url(owner.organization),
        {"domain": "https://Mingde-AI.cn/"},
        format="json",
    )
    # then
    assert response.status_code == 200
    body = response.json()
    token = Organization.objects.get(pk=owner.organization_id).domain_token
    assert body["domain"] == DOMAIN
    assert body["token"] == token
    assert body["verified_at"] is None
    assert body["instructions"] == {
        "txt_name": f"_agentstore-challenge.{DOMAIN}",
        "txt_value": f"agentstore-verification={token}",
        "file_url": f"https://{DOMAIN}{FILE_PATH}",
        "file_content": token,
    }


@pytest.mark.parametrize(
    "payload", [{}, {"domain": ""}, {"domain": "localhost"}, {"domain": "1.2.3.4"}]
)
def test_the_api_refuses_bad_domains_with_400(
    api: APIClient, payload: dict[str, str]
) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    api.force_authenticate(owner.user)
    response = api.put(_domain_url(owner.organization), payload, format="json")
    assert response.status_code == 400
    assert "domain" in response.json()["error"]["details"]


def test_the_api_refuses_a_domain_verified_elsewhere_with_409(api: APIClient) -> None:
    holder = _claimed()
    Organization.objects.filter(pk=holder.organization_id).update(
        domain_verified_at="2026-01-01T00:00:00Z"
    )
    owner = MembershipFactory.create(role=Role.OWNER)
    api.force_authenticate(owner.user)
    response = api.put(_domain_url(owner.organization), {"domain": DOMAIN})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "domain_taken"


def test_the_api_denies_claims_and_checks_to_others(api: APIClient) -> None:
    owner = _claimed()
    organization = owner.organization
    member = MembershipFactory.create(organization=organization)
    # anonymous
    assert api.put(_domain_url(organization), {"domain": "x.cn"}).status_code in (
        401,
        403,
    )
    assert api.post(_domain_url(organization, check=True)).status_code in (401, 403)
    # a member, a stranger and another organisation's owner
    for user in (
        member.user,
        UserFactory.create(),
        MembershipFactory.create(role=Role.OWNER).user,
    ):
        api.force_authenticate(user)
        assert api.put(_domain_url(organization), {"domain": "x.cn"}).status_code == 403
        assert api.post(_domain_url(organization, check=True)).status_code == 403
    # an organisation that does not exist
    api.force_authenticate(owner.user)
    assert (
        api.put("/api/v1/organizations/nope/domain/", {"domain": "x.cn"}).status_code
        == 404
    )
    organization.refresh_from_db()
    assert organization.domain == DOMAIN


def test_the_api_enqueues_a_check_with_202_and_then_asks_to_wait(
    api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    owner = _claimed()
    api.force_authenticate(owner.user)
    with django_capture_on_commit_callbacks() as enqueued:
        response = api.post(_domain_url(owner.organization, check=True))
    assert response.status_code == 202
    assert response.json()["domain"] == DOMAIN
    assert len(enqueued) == 1
    again = api.post(_domain_url(owner.organization, check=True))
    assert again.status_code == 429
    assert again.json()["error"]["code"] == "domain_check_too_soon"


def test_the_api_asks_for_a_claim_before_a_check(api: APIClient) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    api.force_authenticate(owner.user)
    response = api.post(_domain_url(owner.organization, check=True))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_domain"


def test_the_organisation_detail_shows_the_token_to_managers_only(
    api: APIClient, zone: Zone
) -> None:
    # given: a claim
    owner = _claimed()
    organization = owner.organization
    member = MembershipFactory.create(organization=organization)
    url = f"/api/v1/organizations/{organization.slug}/"
    # then: the public sees no unverified domain and no token
    public = api.get(url).json()
    assert (public["domain"], public["domain_verified_at"]) == (None, None)
    assert "domain_claim" not in public
    api.force_authenticate(member.user)
    assert "domain_claim" not in api.get(url).json()
    api.force_authenticate(owner.user)
    claim = api.get(url).json()["domain_claim"]
    assert claim["token"] == organization.domain_token
    assert claim["domain"] == DOMAIN
    # when: verified
    zone.txt(
        f"_agentstore-challenge.{DOMAIN}",
        f"agentstore-verification={organization.domain_token}",
    )
    check_task(organization_id=organization.pk)
    # then: the public sees the domain
    api.force_authenticate(None)
    public = api.get(url).json()
    assert public["domain"] == DOMAIN
    assert public["domain_verified_at"] is not None
    assert organization.domain_token not in str(public)


def test_the_api_shows_the_reasons_of_a_failed_check(
    api: APIClient, zone: Zone
) -> None:
    owner = _claimed()
    organization_check_domain(organization_id=owner.organization_id)
    api.force_authenticate(owner.user)
    claim = api.get(f"/api/v1/organizations/{owner.organization.slug}/").json()[
        "domain_claim"
    ]
    assert claim["check_errors"] == ["txt_missing", "no_address"]
    assert "no TXT record" in claim["check_reasons"][0]
    assert claim["checked_at"] is not None


def test_a_user_without_a_membership_of_that_org_gets_no_claim(
    api: APIClient,
) -> None:
    owner = _claimed()
    stranger: User = UserFactory.create()
    api.force_authenticate(stranger)
    body = api.get(f"/api/v1/organizations/{owner.organization.slug}/").json()
    assert "domain_claim" not in body


# --- Long domains -------------------------------------------------------------------


def _long_domain(length: int) -> str:
    """A valid domain name of the given length (at least 197 characters)."""
    labels = ["a" * 63, "b" * 63, "c" * 63]
    last = length - len(".".join(labels)) - len("..com")
    return ".".join([*labels, "d" * last]) + ".com"


def test_a_domain_whose_challenge_name_fits_in_dns_is_accepted() -> None:
    domain = _long_domain(231)
    assert normalise_domain(domain) == domain
    assert len(challenge_name(domain)) == 253


def test_a_domain_whose_challenge_name_would_not_fit_in_dns_is_refused() -> None:
    # given: 232 characters, within DNS's 253, but not with _agentstore-challenge.
    owner = MembershipFactory.create(role=Role.OWNER)
    # when
    with pytest.raises(ApplicationError) as caught:
        organization_claim_domain(
            actor=owner.user, organization=owner.organization, domain=_long_domain(232)
        )
    # then
    assert caught.value.code == "invalid_domain"
    (message,) = caught.value.details["domain"]
    assert "_agentstore-challenge.<domain>" in message
    assert "at most 231 characters" in message
    owner.organization.refresh_from_db()
    assert owner.organization.domain == ""


def test_the_api_and_the_page_refuse_a_domain_too_long_to_prove(
    api: APIClient, client: Client
) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    api.force_authenticate(owner.user)
    response = api.put(
        _domain_url(owner.organization), {"domain": _long_domain(240)}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_domain"
    assert "at most 231" in response.json()["error"]["details"]["domain"][0]
    client.force_login(owner.user)
    page = client.post(
        _settings_url(owner.organization),
        {"claim_domain": "1", "domain": _long_domain(240)},
    )
    assert page.status_code == 400
    assert "at most 231" in page.context["domain_form"].errors["domain"][0]


def test_a_long_domain_claimed_before_the_rule_fails_for_good(zone: Zone) -> None:
    # given: a claim stored before such domains were refused
    owner = _claimed()
    Organization.objects.filter(pk=owner.organization_id).update(
        domain=_long_domain(240)
    )
    # when
    result = organization_check_domain(organization_id=owner.organization_id)
    # then: no record can exist there; nothing to retry
    assert result is not None
    assert result.reasons[0] == "txt_missing"
    assert not result.transient
    assert not any(len(name) > 253 for name, _type in zone.queries)


# --- One deadline for the file ------------------------------------------------------


@pytest.mark.parametrize("prefix", [DRIPPING_HEADERS, DRIPPING_BODY])
def test_a_web_server_that_drips_bytes_is_cut_off_at_the_timeout(
    zone: Zone, settings: Any, prefix: bytes
) -> None:
    # given: a server that sends a byte every 50 ms, each well within the timeout
    settings.DOMAIN_CHECK_TIMEOUT = 0.5
    organization = _claimed().organization
    zone.a(DOMAIN)
    with slow_server(prefix=prefix) as port:
        settings.DOMAIN_CHECK_HTTP_PORT = port
        started = time.monotonic()
        # when
        result = organization_check_domain(organization_id=organization.pk)
        elapsed = time.monotonic() - started
    # then: the fetch as a whole stopped at the timeout
    assert result is not None
    assert result.reasons == ("txt_missing", "http_timeout")
    assert result.transient
    assert elapsed < 2
    organization.refresh_from_db()
    assert organization.domain_check_error == "txt_missing http_timeout"


@pytest.mark.parametrize(
    ("rdtype", "address"),
    [
        ("A", "10.1.2.3"),
        ("AAAA", "::1"),
        ("AAAA", "::ffff:127.0.0.1"),
        ("AAAA", "64:ff9b::7f00:1"),
        ("AAAA", "64:ff9b:1::a00:1"),
        ("AAAA", "2002:7f00:1::1"),
        ("AAAA", "fd00::1"),
    ],
)
def test_a_domain_on_an_address_that_leads_inside_is_not_fetched(
    zone: Zone, site: Site, settings: Any, rdtype: str, address: str
) -> None:
    # given: the file is right, but the domain has an address that leads inside
    settings.DOMAIN_CHECK_ALLOW_PRIVATE = False
    organization = _claimed().organization
    zone.a(DOMAIN, "93.184.216.34")
    zone.records.setdefault((DOMAIN, rdtype), []).append(address)
    site.file(organization.domain_token)
    # when
    result = organization_check_domain(organization_id=organization.pk)
    # then
    assert result is not None
    assert result.reasons == ("txt_missing", "address_not_allowed")
    assert site.requests == []


# --- One verified claim per domain --------------------------------------------------


def test_the_database_allows_one_verified_claim_per_domain() -> None:
    # given: two claims of one domain, one verified
    first, second = _claimed(), _claimed()
    Organization.objects.filter(pk=first.organization_id).update(
        domain_verified_at=timezone.now()
    )
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        Organization.objects.filter(pk=second.organization_id).update(
            domain_verified_at=timezone.now()
        )
    # and other domains, and unverified claims of this one, are not affected
    OrganizationFactory.create(domain=DOMAIN)
    OrganizationFactory.create(domain="other.cn", domain_verified_at=timezone.now())


def test_a_verification_the_database_refuses_is_recorded_as_taken(
    zone: Zone, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: two claims with their records, the first verified
    first, second = _claimed(), _claimed()
    name = f"_agentstore-challenge.{DOMAIN}"
    for manager in (first, second):
        zone.txt(name, f"agentstore-verification={manager.organization.domain_token}")
    organization_check_domain(organization_id=first.organization_id)
    # and the service's own look-up misses it (as a concurrent writer could)
    monkeypatch.setattr(domain_control, "_taken", lambda **kwargs: False)
    # when
    result = organization_check_domain(organization_id=second.organization_id)
    # then: the constraint's refusal is the clear outcome, not an error
    assert result is not None
    assert result.reasons == ("domain_taken",)
    second.organization.refresh_from_db()
    assert second.organization.domain_verified_at is None
    assert second.organization.domain_check_error == "domain_taken"
    (event,) = _events(second.organization, Action.DOMAIN_CHECK_FAILED)
    assert event.payload["reasons"] == ["domain_taken"]
    first.organization.refresh_from_db()
    assert first.organization.domain_verified_at is not None


# --- Checks that do not finish ------------------------------------------------------


def _verified_by_txt(zone: Zone) -> Membership:
    owner = _claimed()
    zone.txt(
        f"_agentstore-challenge.{DOMAIN}",
        f"agentstore-verification={owner.organization.domain_token}",
    )
    organization_check_domain(organization_id=owner.organization_id)
    owner.organization.refresh_from_db()
    assert owner.organization.domain_verified_at is not None
    return owner


def test_a_check_stopped_by_the_soft_time_limit_records_a_transient_outcome(
    zone: Zone, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a verified claim, and a check that the soft time limit interrupts
    organization = _verified_by_txt(zone).organization

    def interrupted(**kwargs: Any) -> domain_control.DomainCheck:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(domain_control, "domain_probe", interrupted)
    # when: the task runs (called directly, it does not retry)
    verified = check_task(organization_id=organization.pk)
    # then: the outcome is recorded, and the verification kept
    assert verified is False
    organization.refresh_from_db()
    assert organization.domain_verified_at is not None
    assert organization.domain_check_error == "check_timeout"
    (event,) = _events(organization, Action.DOMAIN_CHECK_FAILED)
    assert event.payload == {
        "domain": DOMAIN,
        "reasons": ["check_timeout"],
        "withdrawn": False,
    }
    (reason,) = domain_control.domain_check_reasons(organization=organization)
    assert "took too long" in reason


def test_a_check_interrupted_in_a_worker_is_retried(
    zone: Zone, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: every attempt is interrupted
    organization = _claimed().organization
    attempts: list[str] = []

    def interrupted(*, domain: str, token: str) -> domain_control.DomainCheck:
        attempts.append(domain)
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(domain_control, "domain_probe", interrupted)
    # when: run as a worker runs it (eagerly here, retries included)
    check_task.apply(kwargs={"organization_id": organization.pk})
    # then: the first attempt and three retries, each recorded
    assert len(attempts) == 4
    organization.refresh_from_db()
    assert organization.domain_check_error == "check_timeout"


def test_a_check_that_fails_for_good_leaves_an_outcome_on_the_claim(
    zone: Zone, monkeypatch: pytest.MonkeyPatch, client: Client
) -> None:
    # given: a verified claim, and a check that breaks
    owner = _verified_by_txt(zone)
    organization = owner.organization

    def broken(**kwargs: Any) -> domain_control.DomainCheck:
        raise RuntimeError("broken")

    monkeypatch.setattr(domain_control, "domain_probe", broken)
    # when: the worker runs the task
    outcome = check_task.apply(
        kwargs={"organization_id": organization.pk, "requested_by_id": owner.user.pk}
    )
    # then: the task failed, and its on_failure recorded that through the service
    assert outcome.failed()
    organization.refresh_from_db()
    assert organization.domain_check_error == "check_failed"
    assert organization.domain_verified_at is not None
    client.force_login(owner.user)
    html = client.get(_settings_url(organization)).content.decode()
    assert "The check could not be completed." in html


def test_a_failure_to_record_a_failed_check_does_not_hide_the_failure(
    zone: Zone, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    organization = _claimed().organization

    def broken(**kwargs: Any) -> domain_control.DomainCheck:
        raise RuntimeError("broken")

    def unrecorded(**kwargs: Any) -> None:
        raise DatabaseError("down")

    monkeypatch.setattr(domain_control, "domain_probe", broken)
    monkeypatch.setattr(domain_control, "organization_domain_check_failed", unrecorded)
    outcome = check_task.apply(kwargs={"organization_id": organization.pk})
    assert outcome.failed()
    assert isinstance(outcome.result, RuntimeError)
    assert "Could not record the failed domain check" in caplog.text


def test_a_failed_check_of_nothing_records_nothing() -> None:
    organization = OrganizationFactory.create()
    assert (
        domain_control.organization_domain_check_failed(organization_id=organization.pk)
        is None
    )
    organization.refresh_from_db()
    assert organization.domain_checked_at is None


# --- The cooldown -------------------------------------------------------------------


def test_the_cooldown_is_kept_on_the_organisation_and_ends(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: a check asked for
    owner = _claimed()
    with django_capture_on_commit_callbacks() as enqueued:
        organization_request_domain_check(
            actor=owner.user, organization=owner.organization
        )
    owner.organization.refresh_from_db()
    assert owner.organization.domain_check_requested_at is not None
    # when: asked again at once, with nothing in the cache
    cache.clear()
    with pytest.raises(DomainCheckTooSoon):
        organization_request_domain_check(
            actor=owner.user, organization=owner.organization
        )
    # then: once the cooldown has passed, another check may be asked for
    Organization.objects.filter(pk=owner.organization_id).update(
        domain_check_requested_at=timezone.now() - CHECK_COOLDOWN
    )
    with django_capture_on_commit_callbacks() as again:
        organization_request_domain_check(
            actor=owner.user, organization=owner.organization
        )
    assert (len(enqueued), len(again)) == (1, 1)


# --- Re-checking verified domains ---------------------------------------------------


def _verified(
    domain: str, *, checked_days_ago: int, requested_minutes_ago: int | None = None
) -> Organization:
    now = timezone.now()
    return OrganizationFactory.create(
        domain=domain,
        domain_token="a-token",
        domain_verified_at=now - timedelta(days=400),
        domain_checked_at=now - timedelta(days=checked_days_ago),
        domain_check_requested_at=(
            None
            if requested_minutes_ago is None
            else now - timedelta(minutes=requested_minutes_ago)
        ),
    )


def test_the_recheck_enqueues_the_verified_domains_due_at_most_a_batch_a_run(
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given
    settings.DOMAIN_RECHECK_DAYS = 30
    oldest = _verified("a.cn", checked_days_ago=60)
    due = _verified("b.cn", checked_days_ago=31)
    older = _verified("c.cn", checked_days_ago=40)
    _verified("d.cn", checked_days_ago=29)  # checked recently
    _verified("e.cn", checked_days_ago=90, requested_minutes_ago=10)  # under way
    OrganizationFactory.create(  # a claim, never verified
        domain="f.cn",
        domain_token="a-token",
        domain_checked_at=timezone.now() - timedelta(days=90),
    )
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(check_task, "delay", lambda **kwargs: sent.append(kwargs))
    # when
    with django_capture_on_commit_callbacks(execute=True):
        count = organization_domain_recheck_due(limit=2)
    # then: the two checked longest ago, by no one
    assert count == 2
    assert sent == [
        {"organization_id": oldest.pk, "requested_by_id": None},
        {"organization_id": older.pk, "requested_by_id": None},
    ]
    # when: the next runs
    with django_capture_on_commit_callbacks(execute=True):
        assert organization_domain_recheck_due(limit=2) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert organization_domain_recheck_due(limit=2) == 0
    # then: what was enqueued is not enqueued again while it runs
    assert [item["organization_id"] for item in sent] == [oldest.pk, older.pk, due.pk]


def test_a_recheck_whose_task_was_lost_is_enqueued_again_later(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    organization = _verified("a.cn", checked_days_ago=60, requested_minutes_ago=61)
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(check_task, "delay", lambda **kwargs: sent.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        assert organization_domain_recheck_due() == 1
    assert sent == [{"organization_id": organization.pk, "requested_by_id": None}]


def test_beat_runs_the_recheck_with_the_batch_setting(
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["recheck-verified-domains"]
    assert (
        entry["task"]
        == recheck_task.name
        == "marketplace.organization_domain_recheck_due"
    )
    settings.DOMAIN_RECHECK_BATCH = 1
    _verified("a.cn", checked_days_ago=60)
    _verified("b.cn", checked_days_ago=50)
    monkeypatch.setattr(check_task, "delay", lambda **kwargs: None)
    with django_capture_on_commit_callbacks(execute=True):
        assert recheck_task() == 1


def test_a_domain_whose_proof_is_gone_at_the_recheck_is_freed_for_another(
    zone: Zone,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: a verified claim last checked 31 days ago
    holder = _verified_by_txt(zone)
    Organization.objects.filter(pk=holder.organization_id).update(
        domain_checked_at=timezone.now() - timedelta(days=31)
    )
    # and the domain changed hands: the record is gone, the new holder is refused
    del zone.records[(f"_agentstore-challenge.{DOMAIN}", "TXT")]
    newcomer = MembershipFactory.create(role=Role.OWNER)
    with pytest.raises(Conflict):
        organization_claim_domain(
            actor=newcomer.user, organization=newcomer.organization, domain=DOMAIN
        )
    # when: beat's re-check runs, and the worker runs the check it enqueued
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(check_task, "delay", lambda **kwargs: sent.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        assert recheck_task() == 1
    check_task(**sent[0])
    # then: the verification is withdrawn
    holder.organization.refresh_from_db()
    assert holder.organization.domain_verified_at is None
    (event,) = _events(holder.organization, Action.DOMAIN_CHECK_FAILED)
    assert event.payload["withdrawn"] is True
    assert event.actor is None
    # and the new holder claims and proves the domain
    claimed = organization_claim_domain(
        actor=newcomer.user, organization=newcomer.organization, domain=DOMAIN
    )
    zone.txt(
        f"_agentstore-challenge.{DOMAIN}",
        f"agentstore-verification={claimed.domain_token}",
    )
    result = organization_check_domain(organization_id=claimed.pk)
    assert result is not None
    assert result.verified
