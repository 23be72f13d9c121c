import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from ratings.models import MisconductReport
from ratings.services import report_submit
from tests.marketplace.factories import UserFactory
from tests.ratings.factories import PNG, published_agent

pytestmark = pytest.mark.django_db


@pytest.fixture
def report() -> MisconductReport:
    agent = published_agent()
    return report_submit(
        reporter=UserFactory.create(),
        publisher=agent.publisher,
        agent=agent,
        category="other",
        description="Something odd.",
        files=[SimpleUploadedFile("shot.png", PNG)],
    )


@pytest.mark.parametrize("model", ["misconductreport", "reportevidence", "reportevent"])
def test_staff_read_reports_in_the_admin(
    client: Client, report: MisconductReport, model: str
) -> None:
    # given
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    url = reverse(f"admin:ratings_{model}_changelist")

    # when / then
    assert client.get(url).status_code == 200
    assert client.get(url, {"q": "shot"}).status_code == 200
    assert client.get(reverse(f"admin:ratings_{model}_add")).status_code == 403


def test_reports_change_state_only_through_the_service(
    client: Client, report: MisconductReport
) -> None:
    # given
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    change = reverse("admin:ratings_misconductreport_change", args=[report.pk])
    delete = reverse("admin:ratings_misconductreport_delete", args=[report.pk])

    # when
    page = client.get(change)
    edited = client.post(change, {"state": "dismissed"})
    deleted = client.post(delete, {"post": "yes"})

    # then
    assert page.status_code == 200
    assert "shot.png" in page.content.decode()
    assert edited.status_code == 403
    assert deleted.status_code == 403
    report.refresh_from_db()
    assert report.state == MisconductReport.State.SUBMITTED
