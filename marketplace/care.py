"""Care for vulnerable users: minors (by the year of birth they declared) and those
who turn on the elder-friendly mode.

A protected user gets larger type and plainer pages (``care_context`` sets the
``care-mode`` class), stricter defaults (optional scopes that let an agent act on
its own start unticked) and a second confirmation before any such scope is
granted. Their install tokens carry a daily-use reminder even when they set none
(``CARE_DAILY_USE_REMINDER_MINUTES``).
"""

from collections.abc import Iterable

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from marketplace.exceptions import AutonomousConfirmationNeeded
from marketplace.models import Agent, User
from marketplace.selectors.installs import MINIMUM_AGE, Permission, age_of

AUTONOMOUS = "autonomous"


def is_minor(user: User) -> bool:
    """Whether the year of birth the user declared makes them younger than the age
    an 18+ agent asks for (a user who declared none is not taken for a minor)."""
    age = age_of(user, year=timezone.localdate().year)
    return age is not None and age < MINIMUM_AGE[Agent.AgeRating.AGE_18]


def is_protected(user: User) -> bool:
    """A minor, or a user in the elder-friendly mode."""
    return bool(user.elder_mode) or is_minor(user)


def care_context(request: HttpRequest) -> dict[str, object]:
    """For every page: ``care_mode`` (larger type, plainer pages) and
    ``elder_mode`` (the notice that says how to turn it off)."""
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        return {"care_mode": False, "elder_mode": False}
    return {"care_mode": is_protected(user), "elder_mode": bool(user.elder_mode)}


def autonomous_permissions(
    permissions: Iterable[Permission], scopes: Iterable[str]
) -> list[Permission]:
    """The permissions among ``scopes`` that let the agent act on its own, in the
    declaration's order."""
    chosen = set(scopes)
    return [p for p in permissions if p.scope in chosen and p.authority == AUTONOMOUS]


def ensure_autonomous_confirmed(
    *,
    user: User,
    permissions: list[Permission],
    granted: Iterable[str],
    confirmed: bool,
) -> None:
    """Refuses to grant a protected user a scope that lets the agent act on its own
    unless they confirmed it a second time; ``details["autonomous_scopes"]`` lists
    those scopes."""
    if confirmed or not is_protected(user):
        return
    autonomous = autonomous_permissions(permissions, granted)
    if not autonomous:
        return
    scopes = [p.scope for p in autonomous]
    message = _(
        "%(scopes)s would let the agent act on its own, without asking you each "
        "time. Confirm that you want this, or untick them."
    ) % {"scopes": ", ".join(scopes)}
    raise AutonomousConfirmationNeeded(
        message,
        details={"confirm_autonomous": [message], "autonomous_scopes": scopes},
    )


def default_scopes(
    *, user: User, permissions: Iterable[Permission], chosen: set[str]
) -> set[str]:
    """The scopes ticked when a consent page opens: ``chosen``, less, for a
    protected user, the optional scopes that let the agent act on its own."""
    if not is_protected(user):
        return chosen
    unticked = {
        p.scope for p in permissions if not p.required and p.authority == AUTONOMOUS
    }
    return chosen - unticked


def daily_use_reminder(user: User) -> int | None:
    """The minutes of use a day after which the agent should remind the user: their
    own preference, else the care default for a protected user, else none."""
    if user.daily_use_reminder_minutes:
        return int(user.daily_use_reminder_minutes)
    if is_protected(user):
        return int(settings.CARE_DAILY_USE_REMINDER_MINUTES)
    return None
