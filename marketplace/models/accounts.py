from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


def language_choices() -> list[tuple[str, str]]:
    return [(code, str(name)) for code, name in settings.LANGUAGES]


class User(AbstractUser):
    """A person. Signs in with a user name or e-mail address; belongs to any number
    of organisations through memberships."""

    # Required here, where AbstractUser allows it blank; unique case-insensitively.
    email = models.EmailField(_("e-mail address"))
    # Declared by the user; age ratings of agents are checked against it.
    birth_year = models.PositiveSmallIntegerField(
        _("year of birth"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1900), MaxValueValidator(2100)],
    )
    preferred_language = models.CharField(
        _("preferred language"),
        max_length=10,
        choices=language_choices,
        blank=True,
    )
    # Larger type, plainer pages and stricter defaults (as for minors): an autonomous
    # scope is granted only after a second confirmation.
    elder_mode = models.BooleanField(_("elder-friendly mode"), default=False)
    # How many minutes a day the user wants to use an agent before it reminds them;
    # install tokens carry it as a claim for the agent to honour.
    daily_use_reminder_minutes = models.PositiveSmallIntegerField(
        _("daily-use reminder (minutes)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(5), MaxValueValidator(1440)],
    )
    # Set when the user follows the link sent to ``email``; cleared when it changes.
    email_verified_at = models.DateTimeField(
        _("e-mail verified"), null=True, blank=True
    )

    REQUIRED_FIELDS = ["email"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="user_email_ci_unique",
                violation_error_message=_("A user with this e-mail address exists."),
            ),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None
