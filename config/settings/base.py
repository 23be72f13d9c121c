"""Settings shared by every environment.

Everything that differs between machines comes from the environment (see the README's
"Configuration" section). Django's own settings are read from ``DJANGO_*`` variables;
the services (database, broker, cache) from their conventional URL variables.
"""

import re
from pathlib import Path

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

# Lets generic classes such as admin.ModelAdmin[Model] be subscripted at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    # Variables already in the environment take precedence over the file.
    env.read_env(str(BASE_DIR / ".env"))

# --- Core -------------------------------------------------------------------------

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
HOW_TO_SET_THE_SIGNING_KEY = (
    "DJANGO_SECRET_KEY is not set. With DJANGO_DEBUG off the site refuses to start "
    "without a secret key: set DJANGO_SECRET_KEY to a long random string "
    "(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# The public host name of the site: agent identifiers (did:web:<SITE_HOST>:...) and the
# links in e-mails are built from it, so it must not depend on a request's Host header.
SITE_HOST = env.str("SITE_HOST", default="localhost:8000")
SITE_SCHEME = env.str("SITE_SCHEME", default="https")
SITE_NAME = env.str("SITE_NAME", default="Agent Store")
# The site's Ed25519 signing key (32-byte seed, base64url). Without it, development
# and tests generate one into SITE_SIGNING_KEY_FILE; production requires it.
SITE_SIGNING_KEY = env.str("SITE_SIGNING_KEY", default="")
SITE_SIGNING_KEY_FILE = env.str(
    "SITE_SIGNING_KEY_FILE", default=str(VAR_DIR / "site-signing-key")
)
# The secret that encrypts the certification bodies' private signing keys in the
# database (any long random string). Empty: derived from the site's signing key, so
# replacing that key makes the stored ones unreadable; production should set it.
CERTIFICATE_KEY_SECRET = env.str("CERTIFICATE_KEY_SECRET", default="")


# ACPs identity codes (AIC, ACPs-spec-AIC v02.02): the arc the operator holds as an
# agent registration service provider, written as levels 1-6 of a code (the national
# prefix, the AIC version and the registrar's index, e.g. 1.2.156.3088.1.1), and the
# registrar's own salt of the code's check characters (hex, at least two bytes).
# Empty: the site gives no codes. See marketplace/protocols/acps.py.
_OID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+")


def acps_registrar_oid(value: str) -> str:
    """ACPS_REGISTRAR_OID: empty, or a dotted object identifier (X.660: the first
    arc 0, 1 or 2; under 0 and 1 the second arc below 40)."""
    value = value.strip()
    if not value:
        return ""
    arcs = value.split(".")
    if (
        len(value) > 100
        or not _OID.fullmatch(value)
        or int(arcs[0]) > 2
        or (int(arcs[0]) < 2 and int(arcs[1]) > 39)
    ):
        raise ImproperlyConfigured(
            f"ACPS_REGISTRAR_OID={value!r} is not an object identifier: write "
            "numbers separated by dots (such as 1.2.156.3088.1.1), at most 100 "
            "characters, or leave it empty to give agents no ACPs identity codes."
        )
    return value


def acps_aic_salt(value: str, *, registrar_oid: str) -> str:
    """ACPS_AIC_SALT: required once ACPS_REGISTRAR_OID is set."""
    value = value.strip().lower()
    if not value and not registrar_oid:
        return ""
    try:
        salt = bytes.fromhex(value)
    except ValueError:
        salt = b""
    if len(salt) < 2:
        raise ImproperlyConfigured(
            "ACPS_AIC_SALT must be at least two bytes in hexadecimal (such as "
            "python -c 'import secrets; print(secrets.token_hex(8))') whenever "
            "ACPS_REGISTRAR_OID is set: it salts the check characters of the codes."
        )
    return value


ACPS_REGISTRAR_OID = acps_registrar_oid(env.str("ACPS_REGISTRAR_OID", default=""))
ACPS_AIC_SALT = acps_aic_salt(
    env.str("ACPS_AIC_SALT", default=""), registrar_oid=ACPS_REGISTRAR_OID
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "marketplace",
    "ratings",
    "ledger",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "marketplace.middleware.AgreementsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
FORM_RENDERER = "config.forms.FormRenderer"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.site",
                "marketplace.views.notifications.inbox_context",
                "marketplace.care.care_context",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg 3's connection pool: no connect per request. Pooling and persistent
    # connections exclude each other, so CONN_MAX_AGE stays 0.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=8),
        "timeout": env.int("DATABASE_POOL_TIMEOUT", default=10),
    }
    # Typo-tolerant name search (marketplace/selectors/search.py) matches a name when
    # a stretch of it is this similar to the query: one wrong letter in a six-letter
    # word scores 0.5, below pg_trgm's default of 0.6.
    _options = DATABASES["default"]["OPTIONS"]
    _options["options"] = (
        _options.get("options", "") + " -c pg_trgm.word_similarity_threshold=0.5"
    ).strip()
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the Celery worker write to the same file: WAL lets readers
    # go on while one writer writes, and IMMEDIATE transactions take the write lock
    # up front instead of failing with "database is locked" half-way through.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ------------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "agentstore",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "agentstore",
        }
    }

# --- Accounts ---------------------------------------------------------------------

AUTH_USER_MODEL = "marketplace.User"
AUTHENTICATION_BACKENDS = ["marketplace.auth.UsernameOrEmailBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "profile"
LOGOUT_REDIRECT_URL = "home"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Failed sign-ins: per account and per client address, in a window of seconds.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
LOGIN_FAILURE_IP_LIMIT = env.int("LOGIN_FAILURE_IP_LIMIT", default=50)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=15 * 60)
# Reverse proxies in front of the site that append to X-Forwarded-For; 0 trusts none.
TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=0)

# Liveness probes of agents' declared endpoints: how many per beat run, how long to
# wait, and whether private and loopback addresses may be probed (never in production:
# the probe must not become a way into the operator's own network).
LIVENESS_BATCH = env.int("LIVENESS_BATCH", default=200)
LIVENESS_TIMEOUT = env.float("LIVENESS_TIMEOUT", default=5.0)
LIVENESS_ALLOW_PRIVATE = env.bool("LIVENESS_ALLOW_PRIVATE", default=False)

# Domain control checks (services/domain_control.py): the DNS servers to ask ("ip" or
# "ip:port"; none means the system's resolver), how long to wait, and whether a
# domain that points to a private or loopback address may be fetched (never in
# production, for the same reason as the liveness probe). The file is fetched over
# https on the standard port; only the test settings change the two values below.
DOMAIN_CHECK_NAMESERVERS = env.list("DOMAIN_CHECK_NAMESERVERS", default=[])
DOMAIN_CHECK_TIMEOUT = env.float("DOMAIN_CHECK_TIMEOUT", default=5.0)
DOMAIN_CHECK_ALLOW_PRIVATE = env.bool("DOMAIN_CHECK_ALLOW_PRIVATE", default=False)
DOMAIN_CHECK_HTTP_SCHEME = "https"
DOMAIN_CHECK_HTTP_PORT: int | None = None
# A verified domain is checked again when its last check is this many days old (a
# beat job, at most DOMAIN_RECHECK_BATCH organisations per run): a domain that
# changed hands loses its verification and can be claimed by its new holder.
DOMAIN_RECHECK_DAYS = env.int("DOMAIN_RECHECK_DAYS", default=30)
DOMAIN_RECHECK_BATCH = env.int("DOMAIN_RECHECK_BATCH", default=100)

# Pending invitations to join an organisation lapse after this many days.
INVITATION_VALID_DAYS = env.int("INVITATION_VALID_DAYS", default=14)

# The store's rating score is a Bayesian average of an agent's visible reviews:
# (C·m + Σ stars) / (C + n), as if every agent started with C reviews of m stars, so
# that a few reviews count for little; an agent without visible reviews scores 0
# (unrated). A change applies to each agent at its next review, edit, hiding or
# restoring.
REVIEW_PRIOR_WEIGHT = env.float("REVIEW_PRIOR_WEIGHT", default=10.0)
REVIEW_PRIOR_MEAN = env.float("REVIEW_PRIOR_MEAN", default=3.5)

# Seconds an install token (the JWT an agent's runtime shows) stays valid; the
# runtime refreshes it with the install's secret.
INSTALL_TOKEN_TTL = env.int("INSTALL_TOKEN_TTL", default=300)
# The daily-use reminder (minutes) that install tokens carry for minors and users in
# the elder-friendly mode who set none of their own.
CARE_DAILY_USE_REMINDER_MINUTES = env.int("CARE_DAILY_USE_REMINDER_MINUTES", default=60)

# Certification: how many days before a certificate expires its publisher is told.
CERTIFICATE_EXPIRY_NOTICE_DAYS = env.int("CERTIFICATE_EXPIRY_NOTICE_DAYS", default=30)

# --- Internationalisation ---------------------------------------------------------

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [
    ("zh-hans", _("Simplified Chinese")),
    ("en", _("English")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="Asia/Shanghai")
USE_TZ = True

# --- Static and media files -------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Evidence attached to misconduct reports: kept outside MEDIA_ROOT (never served at
# MEDIA_URL), served only by a view that checks who asks; each file at most this size.
REPORT_EVIDENCE_ROOT = Path(
    env.str("REPORT_EVIDENCE_ROOT", default=str(VAR_DIR / "private"))
)
REPORT_EVIDENCE_MAX_BYTES = env.int("REPORT_EVIDENCE_MAX_BYTES", default=5_242_880)
# Working days the entity has to answer a report under investigation.
REPORT_ANSWER_DAYS = env.int("REPORT_ANSWER_DAYS", default=10)
# New misconduct reports about an entity in 7 days that open a rating watch (and at
# least three times its weekly average over the 30 days before).
WATCH_COMPLAINT_SPIKE = env.int("WATCH_COMPLAINT_SPIKE", default=5)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- E-mail -----------------------------------------------------------------------

EMAIL_BACKEND = env.str(
    "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend"
)
DEFAULT_FROM_EMAIL = env.str(
    "DJANGO_DEFAULT_FROM_EMAIL", default="Agent Store <noreply@localhost>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security ---------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the htmx pages read it to send X-CSRFToken
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "config.views.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'"],
        "script-src": ["'self'"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Files one request may upload: as many as a misconduct report takes
# (ratings.services.FILES_MAX); no other form takes more than one.
DATA_UPLOAD_MAX_NUMBER_FILES = 5

# --- REST API ---------------------------------------------------------------------

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes unauthenticated answers 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticatedOrReadOnly",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",
    "EXCEPTION_HANDLER": "config.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"auth": "20/min", "certificate_verify": "60/min"},
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Agent Store API",
    "DESCRIPTION": (
        "The public REST API of the agent store: organisations, the agent registry, "
        "installs, certification and credit ratings."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "MisconductReportStateEnum": "ratings.models.MisconductReport.State",
        "SanctionKindEnum": "ratings.models.surveillance.SANCTION_KIND_CHOICES",
        "OrganizationKindEnum": "marketplace.models.Organization.Kind",
    },
}

# --- Celery -----------------------------------------------------------------------

# The embedded default is kombu's file-system transport: a real broker that keeps its
# messages in var/broker/ and needs no server. Production sets a redis:// URL.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost//")
CELERY_BROKER_DIR = Path(env.str("CELERY_BROKER_DIR", default=str(VAR_DIR / "broker")))


def broker_transport_options(broker_url: str, folder: Path) -> dict[str, object]:
    """Options for the broker: the folders of the file-system transport (created
    here, since kombu expects them to exist), or Redis' visibility timeout."""
    if broker_url.startswith("filesystem://"):
        queue, control = folder / "queue", folder / "control"
        queue.mkdir(parents=True, exist_ok=True)
        control.mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(queue),
            "data_folder_out": str(queue),
            "control_folder": str(control),
        }
    # Longer than the longest task time limit, or unacked tasks run twice.
    return {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}


CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(
    CELERY_BROKER_URL, CELERY_BROKER_DIR
)
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 4 * 60
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "expire-invitations": {
        "task": "marketplace.invitation_expire_due",
        "schedule": 60 * 60,
    },
    "probe-agent-endpoints": {
        "task": "marketplace.liveness_sweep",
        "schedule": 10 * 60,
    },
    "recheck-verified-domains": {
        "task": "marketplace.organization_domain_recheck_due",
        "schedule": 60 * 60,
    },
    "compute-review-signals": {
        "task": "marketplace.review_signals_compute_due",
        "schedule": 60 * 60,
    },
    "expire-certificates": {
        "task": "marketplace.certificate_expire_due",
        "schedule": 60 * 60,
    },
    "re-sign-certificate-status-list": {
        "task": "marketplace.certificate_status_list_refresh",
        "schedule": 24 * 60 * 60,
    },
    "warn-of-certificate-expiry": {
        "task": "marketplace.certificate_notify_expiring",
        "schedule": 6 * 60 * 60,
    },
    "sweep-stuck-rating-cycles": {
        "task": "ratings.cycle_sweep_stuck",
        "schedule": 10 * 60,
    },
    "start-scheduled-rating-cycles": {
        "task": "ratings.cycles_start_due",
        "schedule": 60,
    },
    "publish-ratings-out-of-objection": {
        "task": "ratings.ratings_publish_due",
        "schedule": 15 * 60,
    },
    "scan-for-rating-watches": {
        "task": "ratings.watch_scan",
        "schedule": 60 * 60,
    },
    "remind-overdue-rating-watches": {
        "task": "ratings.watch_remind_overdue",
        "schedule": 6 * 60 * 60,
    },
    "expire-credit-ratings": {
        "task": "ratings.ratings_expire",
        "schedule": 60 * 60,
    },
    "expire-credit-sanctions": {
        "task": "ratings.sanctions_expire",
        "schedule": 60 * 60,
    },
}

# --- Logging ----------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "filters": {
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        # Server errors by e-mail to DJANGO_ADMINS (production sets them).
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler would print every record a second time.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.request": {"handlers": ["mail_admins"], "propagate": True},
        "django.db.backends": {"level": "WARNING"},
    },
}
