from collections.abc import Callable
from typing import TypeVar

from django import forms
from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest

from config.exceptions import ApplicationError
from config.exceptions import PermissionDenied as DomainPermissionDenied

FormT = TypeVar("FormT", bound=forms.Form)
ResultT = TypeVar("ResultT")


def add_service_error(
    form: forms.Form, error: ApplicationError | ValidationError
) -> None:
    """Show an error raised by a service on the form: on the field it names when the
    form has that field, else above the form. A detail about a part of a field
    (``declaration.skills.0.id``) goes on the field, prefixed with that part."""
    if isinstance(error, ApplicationError):
        placed = False
        for key, messages in error.details.items():
            field, _, part = key.partition(".")
            if field in form.fields:
                for message in messages:
                    form.add_error(field, f"{part}: {message}" if part else message)
                placed = True
        if not placed:
            form.add_error(None, error.message)
        return
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            target = field if field in form.fields else None
            for item in errors:
                form.add_error(
                    target, item.messages if field != NON_FIELD_ERRORS else item
                )
    else:
        form.add_error(None, error)


def run_action(
    request: HttpRequest, action: Callable[[], object], success: str
) -> None:
    """Run a service for a button and report the outcome as a message; the caller
    redirects back to its page. A denial stays a denial (403), not a message."""
    try:
        action()
    except DomainPermissionDenied:
        raise
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success)


def run_form_service(
    form: FormT,
    call: Callable[[], ResultT],
    *,
    show: Callable[[FormT, ApplicationError | ValidationError], None] = (
        add_service_error
    ),
) -> ResultT | None:
    """Run the service behind a valid form: its result, or None after showing its
    error on the form (``add_service_error`` unless ``show`` says otherwise). A
    denial stays a denial (403), not a form error."""
    try:
        return call()
    except DomainPermissionDenied:
        raise
    except (ApplicationError, ValidationError) as error:
        show(form, error)
        return None
