"""Celery tasks of the marketplace: thin, idempotent, keyed by ids."""

from typing import Any

from celery import shared_task


@shared_task(
    name="marketplace.invitation_send",
    soft_time_limit=30,
    time_limit=60,
    # SMTP and network failures are transient: try again later.
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def invitation_send(*, invitation_id: int, **kwargs: Any) -> bool:
    from marketplace.services.organizations import invitation_send

    return invitation_send(invitation_id=invitation_id)


@shared_task(
    name="marketplace.invitation_expire_due", soft_time_limit=60, time_limit=120
)
def invitation_expire_due(**kwargs: Any) -> int:
    from marketplace.services.organizations import invitation_expire_due

    return invitation_expire_due()


@shared_task(
    name="marketplace.email_verification_send",
    soft_time_limit=30,
    time_limit=60,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def email_verification_send(*, user_id: int, **kwargs: Any) -> bool:
    from marketplace.services.accounts import email_verification_send

    return email_verification_send(user_id=user_id)
