from collections.abc import Collection
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from config.site import absolute_url
from marketplace.exceptions import ApplicationError
from marketplace.models import AgreementAcceptance, User
from marketplace.selectors.agreements import agreement_in_force_list
from marketplace.services.agreements import agreements_accept
from marketplace.services.common import email_send, insert_unique

EMAIL_VERIFICATION_SALT = "marketplace.email_verification"
EMAIL_VERIFICATION_MAX_AGE = timedelta(days=3)


class VerificationLinkNotValid(ApplicationError):
    code = "verification_link_not_valid"


@transaction.atomic
def user_create(
    *,
    username: str,
    email: str,
    password: str,
    birth_year: int | None = None,
    preferred_language: str = "",
    accept_agreements: bool | None = None,
    agreement_version_ids: Collection[int] = (),
) -> User:
    """A new account; a link to confirm its e-mail address goes out on commit.

    The sign-up page shows the documents in force and passes ``accept_agreements``
    with ``agreement_version_ids``, the versions it showed. They must be accepted
    (when any are in force) and must be exactly the versions still in force: when a
    newer version came in while the form was open, nothing is created and the
    person is asked to read it. The acceptances are recorded with the account.
    Accounts made otherwise (``None``: the demo data, the shell) are asked to
    accept the documents before their first write."""
    in_force = agreement_in_force_list(user_kinds_only=True)
    if accept_agreements is False and in_force:
        raise ApplicationError.on_field(
            "accept_agreements",
            _("Accept the platform rules, the user agreement and the privacy policy."),
        )
    shown = set(agreement_version_ids)
    if accept_agreements and shown != {version.pk for version in in_force}:
        message = _(
            "The documents changed while you were signing up. Read the new "
            "versions linked below and accept them."
        )
        raise ApplicationError(
            message,
            code="agreements_changed",
            details={"accept_agreements": [message]},
        )
    user = User(
        username=username,
        email=User.objects.normalize_email(email).lower(),
        birth_year=birth_year,
        preferred_language=preferred_language,
    )
    validate_password(password, user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    insert_unique(
        user, field="username", message=_("This user name or e-mail address is taken.")
    )
    if accept_agreements and shown:
        agreements_accept(
            user=user,
            version_ids=sorted(shown),
            context=AgreementAcceptance.Context.SIGN_UP,
        )
    email_verification_request(user=user)
    return user


@transaction.atomic
def user_update_profile(
    *,
    user: User,
    birth_year: int | None,
    preferred_language: str,
    elder_mode: bool,
    daily_use_reminder_minutes: int | None,
) -> User:
    """Save the user's settings: year of birth, language, the elder-friendly mode
    and the daily-use reminder (5 to 1440 minutes, or none), each checked against
    the model's rules."""
    user.birth_year = birth_year
    user.preferred_language = preferred_language
    user.elder_mode = elder_mode
    user.daily_use_reminder_minutes = daily_use_reminder_minutes
    user.full_clean(exclude=["password"])
    user.save(
        update_fields=[
            "birth_year",
            "preferred_language",
            "elder_mode",
            "daily_use_reminder_minutes",
        ]
    )
    return user


def user_set_language(*, user: User, language: str) -> None:
    """Remember the language a signed-in user chose, for pages and e-mails."""
    if language not in dict(settings.LANGUAGES):
        return
    User.objects.filter(pk=user.pk).update(preferred_language=language)
    user.preferred_language = language


def email_verification_token(*, user: User) -> str:
    """The token of the link that confirms the user's current e-mail address."""
    return signing.dumps(
        {"user": user.pk, "email": user.email.lower()}, salt=EMAIL_VERIFICATION_SALT
    )


def email_verification_request(*, user: User) -> None:
    """Send (again) the link that confirms the user's e-mail address, once the
    current transaction commits."""
    if user.email_verified:
        return
    from marketplace.tasks import email_verification_send as send_task

    send_task.delay_on_commit(user_id=user.pk)  # type: ignore[attr-defined]  # DjangoTask's, not in celery-types


def email_verification_send(*, user_id: int) -> bool:
    """Mail the confirmation link to a user whose address is not confirmed yet."""
    user = User.objects.filter(pk=user_id, email_verified_at=None).first()
    if user is None:
        return False
    path = reverse(
        "verify-email", kwargs={"token": email_verification_token(user=user)}
    )
    email_send(
        template="verify_email",
        context={
            "user": user,
            "url": absolute_url(path),
            "days": EMAIL_VERIFICATION_MAX_AGE.days,
        },
        language=user.preferred_language,
        to=user.email,
    )
    return True


@transaction.atomic
def user_verify_email(*, token: str) -> User:
    """Confirm the address the link was sent to, if it is still the user's."""
    try:
        data = signing.loads(
            token,
            salt=EMAIL_VERIFICATION_SALT,
            max_age=EMAIL_VERIFICATION_MAX_AGE,
        )
    except signing.SignatureExpired:
        raise VerificationLinkNotValid(
            _("This link has expired. Sign in and ask for a new one.")
        ) from None
    except signing.BadSignature:
        raise VerificationLinkNotValid(_("This link is not valid.")) from None
    user = User.objects.select_for_update().filter(pk=data.get("user")).first()
    if user is None or user.email.lower() != data.get("email"):
        raise VerificationLinkNotValid(
            _("This link was for an address the account no longer has.")
        )
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
    return user
