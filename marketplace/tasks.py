"""Celery tasks of the marketplace: thin, idempotent, keyed by ids."""

import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from billiard.einfo import ExceptionInfo
from celery import Task, shared_task
from celery.contrib.django.task import DjangoTask
from django.db import OperationalError

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def _email_task(name: str) -> Callable[[Callable[P, R]], Task[P, R]]:
    """A task that sends an e-mail: short, and retried later when the mail server or
    the network fails."""
    return shared_task(
        name=name,
        soft_time_limit=30,
        time_limit=60,
        autoretry_for=(OSError,),
        retry_backoff=True,
        retry_jitter=True,
        max_retries=5,
    )


@_email_task("marketplace.invitation_send")
def invitation_send(*, invitation_id: int, **kwargs: Any) -> bool:
    from marketplace.services.organizations import invitation_send

    return invitation_send(invitation_id=invitation_id)


@_email_task("marketplace.notification_email")
def notification_email(*, notification_id: int, **kwargs: Any) -> bool:
    from marketplace.services.notifications import notification_email

    return notification_email(notification_id=notification_id)


@shared_task(
    name="marketplace.invitation_expire_due", soft_time_limit=60, time_limit=120
)
def invitation_expire_due(**kwargs: Any) -> int:
    from marketplace.services.organizations import invitation_expire_due

    return invitation_expire_due()


@_email_task("marketplace.email_verification_send")
def email_verification_send(*, user_id: int, **kwargs: Any) -> bool:
    from marketplace.services.accounts import email_verification_send

    return email_verification_send(user_id=user_id)


@shared_task(
    name="marketplace.version_run_checks",
    soft_time_limit=60,
    time_limit=120,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=3,
)
def version_run_checks(*, version_id: int, **kwargs: Any) -> str | None:
    from marketplace.services.publishing import version_run_checks

    return version_run_checks(version_id=version_id)


@shared_task(name="marketplace.liveness_sweep", soft_time_limit=240, time_limit=300)
def liveness_sweep(**kwargs: Any) -> int:
    from marketplace.services.liveness import liveness_sweep

    return liveness_sweep()


class _DomainCheckTask(DjangoTask[Any, Any]):
    def on_failure(
        self,
        exc: Exception,
        task_id: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        einfo: ExceptionInfo,
    ) -> None:
        """A check that failed for good still leaves an outcome on the claim, so
        that its owners do not wait for one."""
        from marketplace.services.domain_control import (
            organization_domain_check_failed,
        )

        organization_id = kwargs.get("organization_id")
        if not isinstance(organization_id, int):
            return
        try:
            organization_domain_check_failed(organization_id=organization_id)
        except Exception:
            # The task's own failure is what the worker reports; this one is logged.
            logger.exception(
                "Could not record the failed domain check of organisation %s",
                organization_id,
            )


@shared_task(
    bind=True,
    base=_DomainCheckTask,
    name="marketplace.organization_check_domain",
    soft_time_limit=60,
    time_limit=90,
    acks_late=True,
    max_retries=3,
)
def organization_check_domain(
    self: _DomainCheckTask,
    /,
    *,
    organization_id: int,
    requested_by_id: int | None = None,
    **kwargs: Any,
) -> bool | None:
    """Check an organisation's domain claim. A transient outcome (a timeout, a
    failing name server, the soft time limit) is recorded and tried again later, up
    to three times; any other failure is recorded by ``on_failure``."""
    from marketplace.services.domain_control import organization_check_domain

    result = organization_check_domain(
        organization_id=organization_id, requested_by_id=requested_by_id
    )
    if result is None:
        return None
    retries_left = (self.max_retries or 0) - self.request.retries
    retry = not self.request.called_directly and retries_left > 0
    if result.transient and retry:
        raise self.retry(countdown=30 * 2**self.request.retries)
    return result.verified


@shared_task(
    name="marketplace.organization_domain_recheck_due",
    soft_time_limit=60,
    time_limit=120,
)
def organization_domain_recheck_due(**kwargs: Any) -> int:
    from marketplace.services.domain_control import organization_domain_recheck_due

    return organization_domain_recheck_due()


@shared_task(
    name="marketplace.review_signals_compute",
    soft_time_limit=60,
    time_limit=90,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=3,
)
def review_signals_compute(*, agent_id: int, **kwargs: Any) -> int:
    """The signs of review manipulation of one agent, replaced in place (running it
    twice stores the same rows). Retried when the database is unavailable or a lock
    wait gives up. Returns how many signals."""
    from marketplace.services.review_signals import review_signals_compute

    return len(review_signals_compute(agent_id=agent_id))


@shared_task(
    name="marketplace.review_signals_compute_due", soft_time_limit=60, time_limit=120
)
def review_signals_compute_due(**kwargs: Any) -> int:
    """From beat: one ``review_signals_compute`` task per agent reviewed within the
    window. Returns how many were enqueued."""
    from marketplace.services.review_signals import review_signals_agents_due

    agent_ids = review_signals_agents_due()
    for agent_id in agent_ids:
        review_signals_compute.delay_on_commit(agent_id=agent_id)  # type: ignore[attr-defined]  # DjangoTask's, not in celery-types
    return len(agent_ids)


@shared_task(
    name="marketplace.installs_follow_version",
    soft_time_limit=540,
    time_limit=600,
)
def installs_follow_version(*, version_id: int, **kwargs: Any) -> int:
    """Move the installs of a newly published version's agent along, or ask their
    users to consent. Each batch commits on its own and a run again skips what is
    done, so a run cut short (acks late, as every task here) is simply redone."""
    from marketplace.services.installs import installs_follow_version

    return installs_follow_version(version_id=version_id)


@shared_task(
    name="marketplace.certificate_expire_due", soft_time_limit=240, time_limit=300
)
def certificate_expire_due(**kwargs: Any) -> int:
    from marketplace.services.certification import certificate_expire_due

    return certificate_expire_due()


@shared_task(
    name="marketplace.certificate_notify_expiring",
    soft_time_limit=240,
    time_limit=300,
)
def certificate_notify_expiring(**kwargs: Any) -> int:
    from marketplace.services.certification import certificate_notify_expiring

    return certificate_notify_expiring()


@shared_task(
    name="marketplace.agent_notify_installers_suspended",
    soft_time_limit=540,
    time_limit=600,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def agent_notify_installers_suspended(
    *, agent_id: int, serial: str, **kwargs: Any
) -> int:
    from marketplace.services.certification import agent_notify_installers_suspended

    return agent_notify_installers_suspended(agent_id=agent_id, serial=serial)


@shared_task(
    name="marketplace.certificate_status_list_refresh",
    soft_time_limit=120,
    time_limit=180,
)
def certificate_status_list_refresh(**kwargs: Any) -> None:
    """Re-sign the status list before its validity runs out, changed or not."""
    from marketplace.services.credentials import status_list_publish

    status_list_publish()
