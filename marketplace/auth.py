from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from config.exceptions import PermissionDenied
from marketplace.models import User
from marketplace.ratelimit import login_blocked, login_failed, login_succeeded


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
        # Every door (pages, API, admin) signs in here, so the limit holds at all.
        if login_blocked(request=request, username=username):
            return None
        field = "email__iexact" if "@" in username else "username"
        user = User._default_manager.filter(**{field: username}).first()
        if user is None:
            # Spend the time a password check takes, so that timing does not tell
            # which accounts exist.
            User().set_password(password)
        elif user.check_password(password) and self.user_can_authenticate(user):
            login_succeeded(username=username)
            return user
        login_failed(request=request, username=username)
        return None
