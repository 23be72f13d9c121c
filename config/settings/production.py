"""Production: every secret from the environment, no defaults; HTTPS everywhere."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import HOW_TO_SET_THE_SIGNING_KEY, env

DEBUG = False
if not SECRET_KEY:  # noqa: F405
    raise ImproperlyConfigured(HOW_TO_SET_THE_SIGNING_KEY)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
# Signatures must verify with the key the site publishes, on every machine.
SITE_SIGNING_KEY = env.str("SITE_SIGNING_KEY")

# Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# The health check is probed over plain HTTP by load balancers.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True
)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    raise ImproperlyConfigured(
        "DATABASE_URL is not set to a PostgreSQL database; production runs on "
        "PostgreSQL (postgres://user:password@host:5432/name)."
    )

EMAIL_TIMEOUT = 10
ADMINS = [("Operators", email) for email in env.list("DJANGO_ADMINS", default=[])]
