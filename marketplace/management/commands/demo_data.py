"""Load a small demo data set. Idempotent: running it again changes nothing."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from marketplace.demo import load_catalogue
from marketplace.demo.agreements import load_agreements
from marketplace.demo.care import load_care
from marketplace.demo.certification import load_certification
from marketplace.models import Membership, Organization, User
from marketplace.services.accounts import user_create
from marketplace.services.organizations import membership_add, organization_create
from ratings.demo import COMMITTEE as CREDIT_COMMITTEE
from ratings.demo import PEOPLE as CREDIT_PEOPLE
from ratings.demo import load_credit

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105  (published demo log-ins)

USERS = [
    # username, e-mail, staff
    ("operator", "operator@example.com", True),
    ("alice", "alice@example.com", False),
    ("bob", "bob@example.com", False),
    ("carol", "carol@example.com", False),
    ("dave", "dave@example.com", False),
    ("erin", "erin@example.com", False),
    ("rita", "rita@example.com", False),
    ("sam", "sam@example.com", False),
    ("hana", "hana@example.com", False),
]

ORGANIZATIONS = [
    # slug, name, kind, description, owner, other members
    (
        "agent-store-ops",
        "Agent Store Operations",
        Organization.Kind.OPERATOR,
        "Runs the platform: reviews listings and moderates content.",
        "operator",
        [("rita", Membership.Role.REVIEWER)],
    ),
    (
        "mingde-ai",
        "Mingde AI Ltd.",
        Organization.Kind.PUBLISHER,
        "Builds office and customer-service agents.",
        "alice",
        [("bob", Membership.Role.MEMBER)],
    ),
    (
        "trustlab-cert",
        "TrustLab Certification Centre",
        Organization.Kind.CERTIFICATION_BODY,
        "Accredited third-party testing of AI agents for security and privacy.",
        "carol",
        [("sam", Membership.Role.ASSESSOR)],
    ),
    (
        "cnas-ai-lab",
        "Huaxia AI Testing Lab",
        Organization.Kind.CERTIFICATION_BODY,
        "Accredited laboratory testing AI agents for function, performance and "
        "regulatory compliance.",
        "hana",
        [],
    ),
    (
        "ai-industry-association",
        "AI Industry Credit Association",
        Organization.Kind.INDUSTRY_BODY,
        "Rates the credit of agent developers and platforms that opt in.",
        "dave",
        [("erin", Membership.Role.ANALYST)],
    ),
]


class Command(BaseCommand):
    help = "Load the demo data set (idempotent) and print the demo log-ins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Load even with DEBUG off (the demo log-ins and password are public).",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "Refusing to load the demo data with DEBUG off: its staff account has "
                "a published password. Use --force on a machine of your own."
            )
        created = 0
        users: dict[str, User] = {}
        for username, email, staff in USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = user_create(
                    username=username, email=email, password=DEMO_PASSWORD
                )
                # Demo accounts are ready to use: addresses count as confirmed.
                User.objects.filter(pk=user.pk).update(
                    is_staff=staff, is_superuser=staff, email_verified_at=timezone.now()
                )
                user.refresh_from_db()
                created += 1
            users[username] = user
        for slug, name, kind, description, owner, members in ORGANIZATIONS:
            organization = Organization.objects.filter(slug=slug).first()
            if organization is None:
                organization = organization_create(
                    actor=users[owner],
                    name=name,
                    slug=slug,
                    kind=kind,
                    description=description,
                )
                created += 1
            for username, role in members:
                if not Membership.objects.filter(
                    user=users[username], organization=organization
                ).exists():
                    membership_add(
                        organization=organization, user=users[username], role=role
                    )
                    created += 1
        created += load_catalogue(owner=users["alice"], reviewer=users["rita"])
        created += load_care(
            owner=users["alice"], reviewer=users["rita"], password=DEMO_PASSWORD
        )
        created += load_certification(operator=users["operator"])
        created += load_credit(password=DEMO_PASSWORD)
        created += load_agreements(operator=users["operator"])  # last: see its doc
        self.stdout.write(
            self.style.SUCCESS(f"Demo data: {created} rows created.")
            if created
            else "Demo data: already loaded, nothing changed."
        )
        self.stdout.write(
            "Demo log-ins (password for all: {}): {}".format(
                DEMO_PASSWORD,
                ", ".join(
                    f"{username}{' (staff)' if staff else ''}"
                    for username, _email, staff in USERS
                ),
            )
        )
        self.stdout.write(
            "Credit rating: {} (analysts), {} (committee).".format(
                ", ".join(
                    name
                    for name, _email, role in CREDIT_PEOPLE
                    if role == Membership.Role.ANALYST
                ),
                ", ".join(CREDIT_COMMITTEE),
            )
        )
