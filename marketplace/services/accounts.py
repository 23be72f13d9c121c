from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from marketplace.models import User


@transaction.atomic
def user_create(
    *,
    username: str,
    email: str,
    password: str,
    birth_year: int | None = None,
    preferred_language: str = "",
) -> User:
    user = User(
        username=username,
        email=User.objects.normalize_email(email).lower(),
        birth_year=birth_year,
        preferred_language=preferred_language,
    )
    validate_password(password, user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


@transaction.atomic
def user_update_profile(
    *,
    user: User,
    birth_year: int | None,
    preferred_language: str,
) -> User:
    user.birth_year = birth_year
    user.preferred_language = preferred_language
    user.full_clean(exclude=["password"])
    user.save(update_fields=["birth_year", "preferred_language"])
    return user


def user_set_language(*, user: User, language: str) -> None:
    """Remember the language a signed-in user chose, for pages and e-mails."""
    if language not in dict(settings.LANGUAGES):
        return
    User.objects.filter(pk=user.pk).update(preferred_language=language)
    user.preferred_language = language
