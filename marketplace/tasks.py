"""Celery tasks of the marketplace: thin, idempotent, keyed by ids."""

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from celery import Task, shared_task

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
