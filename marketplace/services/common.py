from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.template.loader import render_to_string
from django.utils import translation

from marketplace.exceptions import Conflict


def insert_unique(instance: models.Model, *, field: str, message: str) -> None:
    """Insert a row whose uniqueness ``full_clean`` has already checked. A concurrent
    insert of the same value can still win the race; the database's constraint then
    refuses this one, which becomes a 409 on ``field`` instead of a 500."""
    try:
        with transaction.atomic():
            instance.save(force_insert=True)
    except IntegrityError:
        raise Conflict(message, details={field: [message]}) from None


def email_send(
    *, template: str, context: dict[str, Any], language: str, to: str
) -> None:
    """Render ``<template>_subject.txt`` and ``<template>_body.txt`` (under
    ``marketplace/email/``) in ``language`` and send them to one address."""
    context = {"site_name": settings.SITE_NAME, **context}
    with translation.override(language or settings.LANGUAGE_CODE):
        subject = render_to_string(
            f"marketplace/email/{template}_subject.txt", context
        ).strip()
        body = render_to_string(f"marketplace/email/{template}_body.txt", context)
    send_mail(subject, body, None, [to])
