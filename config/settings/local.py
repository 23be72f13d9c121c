"""Development on one machine: `make run`. Debug on, e-mail to the console."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import HOW_TO_SET_THE_SIGNING_KEY, SECRET_KEY, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SITE_SCHEME = env.str("SITE_SCHEME", default="http")

if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(HOW_TO_SET_THE_SIGNING_KEY)
    # Development only: never used when DEBUG is off.
    SECRET_KEY = "django-insecure-development-key-do-not-use-in-production"  # noqa: S105

EMAIL_BACKEND = env.str(
    "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
STORAGES = {
    **STORAGES,  # noqa: F405
    # No manifest in development: files are served from their sources as they change.
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# whitenoise serves files from their sources (finders) in development; the folder that
# collectstatic fills for production only has to exist.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
