from pathlib import Path

import pytest
from django.conf import settings

from marketplace.models import Invitation, Membership
from marketplace.services.organizations import invitation_create
from tests.marketplace.factories import MembershipFactory
from tests.worker import celery_worker, wait_for


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_invitation_email(tmp_path: Path) -> None:
    """The whole path: the service commits, the message goes to the broker (files in
    var/ by default, Redis under make test-services), a separate worker process takes
    it and the invitation is marked sent in the database."""
    # given
    owner = MembershipFactory.create(role=Membership.Role.OWNER)
    log = tmp_path / "worker.log"
    with celery_worker(log) as worker:
        # when
        invitation = invitation_create(
            actor=owner.user,
            organization=owner.organization,
            email="far-away@example.com",
            role=Membership.Role.MEMBER,
        )
        # then
        wait_for(
            lambda: Invitation.objects.filter(
                pk=invitation.pk, sent_at__isnull=False
            ).exists(),
            timeout=60,
            log=log,
        )
        assert worker.poll() is None
    transport = settings.CELERY_BROKER_URL.split("://")[0]
    assert "marketplace.invitation_send[" in log.read_text(), transport
