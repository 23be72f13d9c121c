import factory
from factory.django import DjangoModelFactory

from marketplace.models import Agent, AgentVersion, Membership, Organization, User
from ratings.models import MisconductReport, ReportEvent
from tests.marketplace.factories import (
    AgentVersionFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)

# The first bytes of real files of each accepted type, and of refused ones.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
TEXT = "The agent charged me twice.\n它重复扣费。\n".encode()
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"


def published_agent() -> Agent:
    """An agent with a published version, of a publisher of its own."""
    version: AgentVersion = AgentVersionFactory.create(
        state=AgentVersion.State.PUBLISHED
    )
    return version.agent


def reporter_of(report: MisconductReport) -> User:
    """The report's reporter, whose account the test has not deleted."""
    assert report.reporter is not None
    return report.reporter


def operator_reviewer() -> User:
    membership: Membership = MembershipFactory.create(
        organization=OrganizationFactory.create(kind=Organization.Kind.OPERATOR),
        role=Membership.Role.REVIEWER,
    )
    return membership.user


class MisconductReportFactory(DjangoModelFactory[MisconductReport]):
    """A submitted report about a publisher, with its first event."""

    class Meta:
        model = MisconductReport
        skip_postgeneration_save = True

    reporter = factory.SubFactory(UserFactory)
    publisher = factory.SubFactory(OrganizationFactory)
    category = MisconductReport.Category.FALSE_ADVERTISING
    description = "The listing promises results it does not deliver."
    evidence_links = factory.LazyFunction(lambda: ["https://example.com/ad"])

    submitted = factory.RelatedFactory(
        "tests.ratings.factories.ReportEventFactory",
        factory_related_name="report",
        actor=factory.SelfAttribute("..reporter"),
    )


class ReportEventFactory(DjangoModelFactory[ReportEvent]):
    class Meta:
        model = ReportEvent

    report = factory.SubFactory(MisconductReportFactory, submitted=None)
    from_state = ""
    to_state = MisconductReport.State.SUBMITTED
