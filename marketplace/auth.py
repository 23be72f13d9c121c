from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from config.exceptions import PermissionDenied
from marketplace.models import User


def signed_in_user(user: AbstractBaseUser | AnonymousUser) -> User:
    """The request's user as a ``User``, for views that require signing in; denies
    anyone else (in case a view forgot to require it)."""
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied()
    return user


class UsernameOrEmailBackend(ModelBackend):
    """Sign in with either the user name or the e-mail address (case-insensitive)."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None or password is None:
            return None
        field = "email__iexact" if "@" in username else "username"
        user = User._default_manager.filter(**{field: username}).first()
        if user is None:
            # Spend the time a password check takes, so that timing does not tell
            # which accounts exist.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
