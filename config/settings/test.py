"""The test suite: the embedded default unless DATABASE_URL / CELERY_BROKER_URL say
otherwise (``make test-services`` points them at PostgreSQL and Redis)."""

from .base import *  # noqa: F403
from .base import VAR_DIR, broker_transport_options, env

# Two test runs at once (in two checkouts' worth of terminals, say) each set their
# own TEST_RUN_NAME, so that they share neither the SQLite test database nor the
# file-system broker.
_RUN = env.str("TEST_RUN_NAME", default="")
_SUFFIX = f"-{_RUN}" if _RUN else ""

DEBUG = False
SECRET_KEY = "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
SITE_HOST = "testserver"
SITE_SCHEME = "http"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not ":memory:", so that a real worker process started by a test can
    # open the same test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db{_SUFFIX}.sqlite3")}  # noqa: F405

# Tests that enqueue and a worker started by a test share this broker folder.
CELERY_BROKER_DIR = VAR_DIR / f"test-broker{_SUFFIX}"
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(
    CELERY_BROKER_URL,  # noqa: F405
    CELERY_BROKER_DIR,
)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / f"test-celerybeat-schedule{_SUFFIX}")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
LIVENESS_ALLOW_PRIVATE = True  # the tests probe servers on 127.0.0.1
LIVENESS_TIMEOUT = 2.0
# Domain checks fetch the proof file over plain http from a test server on 127.0.0.1
# (whose port a test sets in DOMAIN_CHECK_HTTP_PORT) and ask a test DNS server.
DOMAIN_CHECK_ALLOW_PRIVATE = True
DOMAIN_CHECK_HTTP_SCHEME = "http"
DOMAIN_CHECK_TIMEOUT = 2.0
