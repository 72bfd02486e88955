"""Settings for Council Letters, all in one file and driven by the environment.

With nothing set, the project runs embedded: DEBUG on, SQLite under var/, Celery tasks run
eagerly in the web process, email stays on this machine and the cache is in memory.
Production sets DATABASE_URL, REDIS_URL, SECRET_KEY, ALLOWED_HOSTS, DEBUG=false and an email
transport (ANYMAIL_ESP or EMAIL_URL). Every variable is listed in README.md ("Configuration").
"""

import ipaddress
import os
from datetime import timedelta
from email.utils import formataddr
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean; anything but a clear yes or no fails loudly instead of guessing."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_networks(name: str) -> list[str]:
    """Comma-separated IP addresses or CIDR networks, each checked (an address is a /32 or
    /128 network)."""
    networks = []
    for item in env_list(name, []):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an IP address or network."
            ) from exc
    return networks


# --- Core -------------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", True)

PLACEHOLDER_SECRET_KEY = "django-insecure-council-letters-development-key-change-me"
SECRET_KEY = os.environ.get("SECRET_KEY") or PLACEHOLDER_SECRET_KEY
if not DEBUG and SECRET_KEY == PLACEHOLDER_SECRET_KEY:
    raise ImproperlyConfigured(
        "DEBUG is off but SECRET_KEY is the development placeholder. Set SECRET_KEY to a long "
        "random value (for example: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Absolute address of the site, used in links inside emails (confirmation, status, delete).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# Who runs the site: named in the consent wording, in the From name of emails ("Jane Doe via
# <organization>") and in the footer, wherever a campaign does not name its own organization
# (Campaign.organization). French pages and emails use ORGANIZATION_NAME_FR.
ORGANIZATION_NAME = os.environ.get("ORGANIZATION_NAME") or "Council Letters"
ORGANIZATION_NAME_FR = (
    os.environ.get("ORGANIZATION_NAME_FR")
    or os.environ.get("ORGANIZATION_NAME")
    or "Lettres au conseil"
)

# The admin lives under a path of the deployer's choosing, so it is not where bots look first.
ADMIN_URL = os.environ.get("ADMIN_URL", "admin/").strip("/") + "/"

INSTALLED_APPS = [
    # modeltranslation must come before the admin so its admin tabs register.
    "modeltranslation",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "csp",
    "crispy_forms",
    "crispy_bootstrap5",
    "simple_history",
    "anymail",
    "localflavor",
    "axes",
    "councils",
    "campaigns",
    "letters",
]

MIDDLEWARE = [
    # Django's site cache, in the two parts its documentation places: UpdateCacheMiddleware
    # first, so the page it keeps carries every header added below it (Vary among them);
    # FetchFromCacheMiddleware once the language is known (the cache key holds it), so a kept
    # page skips the rest of this list and the view. Only pages that say they may be kept
    # (max-age, CACHE_MIDDLEWARE_SECONDS below) are kept: the campaign page as a first-time
    # visitor gets it, and counts.json.
    "django.middleware.cache.UpdateCacheMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.cache.FetchFromCacheMiddleware",
    # Below the fetch, so a kept page is kept with its policy: building the header again on
    # every hit cost about a fifth of a hit's instructions.
    # Static files, which WhiteNoise answers above, go without it: CSP governs documents.
    "csp.middleware.CSPMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": env.db_url("DATABASE_URL")}
else:
    VAR_DIR.mkdir(exist_ok=True)
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "db.sqlite3"}
    }
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    # A new PostgreSQL connection costs about 24 ms here: keep connections open and check
    # them before reuse.
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -------------------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            # RELEASE_ID (a commit hash, a version) starts each release on its own keys, so
            # nothing cached by older code or templates is served after a deploy.
            "KEY_PREFIX": ":".join(
                part
                for part in (os.environ.get("CACHE_KEY_PREFIX", "cl"), os.environ.get("RELEASE_ID"))
                if part
            ),
            "OPTIONS": {
                # A Redis outage is a cache miss, not an error page: every cache call that
                # fails is logged and answers as if the key were absent.
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
        }
    }
    # The site cache's pages: the same Redis under a prefix of their own, so an organizer's
    # edit clears them all and nothing else (campaigns.caching.page_cache_clear).
    CACHES["pages"] = {
        **CACHES["default"],
        "KEY_PREFIX": CACHES["default"]["KEY_PREFIX"] + ":pages",
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "pages": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pages"},
    }
# The site cache (MIDDLEWARE) keeps a page only for as long as its Cache-Control max-age says,
# and pages without one not at all (they are sent with max-age=0).
CACHE_MIDDLEWARE_ALIAS = "pages"
CACHE_MIDDLEWARE_KEY_PREFIX = ""
CACHE_MIDDLEWARE_SECONDS = 0
# With Redis, sessions (a resident's unfinished letter, an admin's login) are read from the
# cache and written through to the database: no query to read them, nothing lost when Redis
# restarts, and the database still answers while Redis is down.
# A session carries an unfinished letter (or an admin's login): hours, not Django's two weeks.
SESSION_COOKIE_AGE = env_int("SESSION_HOURS", 12) * 60 * 60
# Public forms post a few kilobytes; the admin's longest campaign form well under this.
# Uploaded files are not counted here (the directory upload has its own cap).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_BYTES", 256 * 1024)
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db"
    if REDIS_URL
    else "django.contrib.sessions.backends.db"
)

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
# With no broker, tasks run in the web process as they are queued (the embedded default).
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Database connections outlive a task, as they outlive a request: Django's CONN_MAX_AGE and
# health checks decide when one is closed (config.celery_app), not Celery after every task.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 120)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 90)
# Longer than the longest retry countdown, so Redis does not hand a waiting task to a second
# worker while the first still holds it.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 2 * 60 * 60),
    "socket_connect_timeout": 2,
}
# With the broker down, a web request that queues a task gives up after one quick retry: the
# row it concerns is saved, and the beat's sweeps queue it once the broker is back.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}
# --- Outgoing email (letters.sending) -----------------------------------------------------------
# Every email is tried at most DELIVERY_MAX_ATTEMPTS times. Transient failures (connection,
# timeout, SMTP 4xx, ESP 5xx/429) wait DELIVERY_RETRY_BACKOFF seconds, then 4x longer each time,
# capped at DELIVERY_RETRY_BACKOFF_MAX: 1, 4, 16, 60, 60 minutes.
DELIVERY_MAX_ATTEMPTS = env_int("DELIVERY_MAX_ATTEMPTS", 6)
DELIVERY_RETRY_BACKOFF = env_int("DELIVERY_RETRY_BACKOFF", 60)
DELIVERY_RETRY_BACKOFF_MAX = env_int("DELIVERY_RETRY_BACKOFF_MAX", 60 * 60)
# An email left "sending" for longer than this was being sent by a worker that died: the sweep
# sends it again (same Message-ID). Celery kills a task at CELERY_TASK_TIME_LIMIT, so no send
# can still be under way after it; the margin covers clocks and the commit.
DELIVERY_STUCK_AFTER = env_int("DELIVERY_STUCK_AFTER", CELERY_TASK_TIME_LIMIT + 30)
if DELIVERY_STUCK_AFTER <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "DELIVERY_STUCK_AFTER must be longer than CELERY_TASK_TIME_LIMIT, or an email still "
        "being sent could be sent a second time."
    )
# At most this many letters an hour reach one recipient from this app, across all campaigns:
# letters beyond it wait their turn (letters.scheduling), first confirmed, first sent.
LETTERS_PER_RECIPIENT_HOUR = env_int("LETTERS_PER_RECIPIENT_HOUR", 20)
# When the day's digests to councillors and bundles to clerks are built (hour, TIME_ZONE); they
# then go out in each council's office hours when the campaign asks.
DIGEST_HOUR = env_int("DIGEST_HOUR", 7)
# VERP-style return path for bounces by mail: bounces+<id>.<signature>@<domain of this address>.
# Empty: the sending address is the return path.
BOUNCE_ADDRESS = os.environ.get("BOUNCE_ADDRESS", "")
CELERY_BEAT_SCHEDULE = {
    # The sweep: emails due (retries, pacing, lost tasks) and those left sending.
    "send-due-mail": {
        "task": "letters.tasks.mails_send_due",
        "schedule": env_int("DELIVERY_REQUEUE_EVERY", 60),
    },
    # "Did council reply?" emails that are due (letters.followups).
    "send-followups": {
        "task": "letters.tasks.followups_send",
        "schedule": crontab(hour=env_int("FOLLOWUP_HOUR", 10), minute=15),
    },
    # The day's digests and clerk's bundles (letters.bundles).
    "build-daily-bundles": {
        "task": "letters.tasks.bundles_build",
        "schedule": crontab(hour=env_int("DIGEST_HOUR", 7), minute=0),
    },
    # The clerk's last bundle before a campaign's correspondence deadline (letters.bundles).
    "build-clerk-bundles-before-deadline": {
        "task": "letters.tasks.clerk_bundles_before_deadline",
        "schedule": 600,
    },
}

# --- Email ------------------------------------------------------------------------------------

DEFAULT_FROM_EMAIL = os.environ.get(
    "DEFAULT_FROM_EMAIL", formataddr((ORGANIZATION_NAME, "letters@example.org"))
)
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", DEFAULT_FROM_EMAIL)

# ANYMAIL_ESP picks an ESP (mailgun, postmark, sendgrid, amazon_ses, brevo, ...). Its settings
# come from variables named ANYMAIL_<SETTING>, e.g. ANYMAIL_MAILGUN_API_KEY.
ANYMAIL_ESP = os.environ.get("ANYMAIL_ESP", "")
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in os.environ.items()
    if key.startswith("ANYMAIL_") and key != "ANYMAIL_ESP"
}
# With an ESP, /anymail/<esp>/tracking/ is mounted (config/urls.py): without a secret it would
# take bounces from anyone, and three flag a representative's address. (Under SMTP there is no
# webhook at all.)
if ANYMAIL_ESP and not ANYMAIL.get("WEBHOOK_SECRET"):
    raise ImproperlyConfigured(
        "ANYMAIL_ESP is set but ANYMAIL_WEBHOOK_SECRET is not: the tracking webhooks would "
        "accept anyone's events. Set ANYMAIL_WEBHOOK_SECRET to 'user:long-random-password' and "
        "use it in the ESP's webhook URL (https://user:password@host/anymail/<esp>/tracking/)."
    )
EMAIL_URL = os.environ.get("EMAIL_URL", "")
if os.environ.get("EMAIL_BACKEND"):
    EMAIL_BACKEND = os.environ["EMAIL_BACKEND"]
elif ANYMAIL_ESP:
    EMAIL_BACKEND = f"anymail.backends.{ANYMAIL_ESP}.EmailBackend"
elif EMAIL_URL:
    vars().update(env.email_url("EMAIL_URL"))
    # Django's SMTP backend, keeping the recipients a server refuses while it accepts others.
    EMAIL_BACKEND = "letters.mail_backends.SMTPBackend"
else:
    # Embedded default: mail never leaves the machine; it is kept in the local outbox, which the
    # admin shows (Letters > Outbox messages).
    EMAIL_BACKEND = "letters.mail_backends.OutboxBackend"
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)

# --- Internationalisation ---------------------------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "config" / "locale"]
# The language switch remembers a visitor's choice for a year (campaigns.views.language_choose);
# it wins over the browser's Accept-Language at "/".
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGE_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = os.environ.get("TIME_ZONE", "America/Toronto")
CELERY_TIMEZONE = TIME_ZONE
USE_I18N = True
USE_TZ = True
# French dates, times and numbers as written in Canada ("1er décembre 2026, 6 h 06", "10 000").
FORMAT_MODULE_PATH = ["config.formats"]

MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
MODELTRANSLATION_LANGUAGES = ("en", "fr")
MODELTRANSLATION_FALLBACK_LANGUAGES = {"default": ("en", "fr")}
# The admin's EN/FR tabs need jQuery UI: serve our vendored copy, not Google's CDN.
JQUERY_UI_URL = "vendor/jquery-ui/jquery-ui.min.js"

# --- Static files -----------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
# Bootstrap is vendored under static/vendor/ from npm's bootstrap package (make vendor) and
# served by us: no CDN, so no third party learns who reads a campaign page.
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security ---------------------------------------------------------------------------------

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Preloading is a commitment to browser vendors that a deployer opts into; until then its
# check --deploy warning (security.W021) is expected and silenced.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The counting index's INCLUDE columns are a PostgreSQL optimisation; SQLite ignores them.
    SILENCED_SYSTEM_CHECKS.append("models.W040")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content Security Policy: everything from this origin only, no inline scripts, no third party.
# Bootstrap's CSS draws form controls with data: SVG images, hence img-src data:.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Admin login rate limiting (django-axes) ----------------------------------------------------
# After AXES_FAILURE_LIMIT failed logins from one IP address, that address is locked out of the
# admin login for AXES_COOLOFF_MINUTES; after AXES_FAILURE_LIMIT failed logins as one username,
# from any number of addresses, that username is (manage.py axes_reset_username unlocks it
# sooner). A success resets the count. AxesStandaloneBackend comes first: it refuses a
# locked-out request before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
# No start-up banner on every manage.py command; lockouts are still logged.
AXES_VERBOSE = False
# The same client address as the letter form's limits (LETTERS_CLIENT_IP_HEADER, trusted
# only from LETTERS_TRUSTED_PROXIES).
AXES_CLIENT_IP_CALLABLE = "letters.client_address.client_ip"

# --- Privacy ------------------------------------------------------------------------------------
# purge_personal_data runs daily from Celery beat (at this hour, in TIME_ZONE). A letter's
# personal data is erased retention_days (a campaign field) after the later of its creation and
# its campaign's closes_at: a campaign with a closing time keeps every letter until then plus
# the retention period; one without a closing time keeps each letter for the period.
PRIVACY_PURGE_HOUR = env_int("PRIVACY_PURGE_HOUR", 3)
CELERY_BEAT_SCHEDULE["purge-personal-data"] = {
    "task": "letters.tasks.personal_data_purge",
    "schedule": crontab(hour=PRIVACY_PURGE_HOUR, minute=30),
}
# Held letters go out once their council's contacts are imported (letters.jobs, which the
# worker imports besides the apps' tasks modules).
CELERY_IMPORTS = ("letters.jobs",)
CELERY_BEAT_SCHEDULE["release-held-letters"] = {
    "task": "letters.jobs.held_letters_release",
    "schedule": env_int("HELD_LETTERS_RELEASE_EVERY", 600),
}

# --- Forms ------------------------------------------------------------------------------------

FORMS_URLFIELD_ASSUME_HTTPS = True
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Letters: the resident's form and its abuse limits ------------------------------------------

# Letters per hour from one IP address, and per email address (letters.models.TokenBucket).
LETTERS_RATE_LIMIT_PER_IP = env_int("LETTERS_RATE_LIMIT_PER_IP", 20)
LETTERS_RATE_LIMIT_PER_EMAIL = env_int("LETTERS_RATE_LIMIT_PER_EMAIL", 5)
# Steps of unfinished letters (council, letter) stored per hour from one IP address: a resident
# needs a handful; a library or office behind one address many more.
LETTERS_DRAFT_WRITES_PER_IP = env_int("LETTERS_DRAFT_WRITES_PER_IP", 300)
# How many letters already sent to the same councillors a personal message must nearly copy
# before the resident is told (a flood, not one letter): with one, anyone could learn whether a
# given text, say a neighbour's, reached the council, by typing it and reading the preview.
LETTERS_NEAR_COPIES_TO_WARN = env_int("LETTERS_NEAR_COPIES_TO_WARN", 3)
# Seconds a person needs at least between opening the letter step and sending; bots are faster.
LETTERS_MIN_FILL_SECONDS = env_int("LETTERS_MIN_FILL_SECONDS", 5)
# Days a confirmation link stays valid.
LETTERS_CONFIRMATION_DAYS = env_int("LETTERS_CONFIRMATION_DAYS", 7)
# Hours after a campaign's closing time during which letters written before it may still be
# confirmed (0: none; a campaign closed by hand takes no confirmation at all).
LETTERS_CONFIRMATION_GRACE_HOURS = env_int("LETTERS_CONFIRMATION_GRACE_HOURS", 0)
# Behind a reverse proxy, the request header that carries the client's address, as Django
# names it (e.g. HTTP_X_REAL_IP or HTTP_X_FORWARDED_FOR); empty means REMOTE_ADDR. It counts
# only on requests from LETTERS_TRUSTED_PROXIES (addresses or networks): from anyone else it
# is whatever the client wrote (letters.client_address).
LETTERS_CLIENT_IP_HEADER = os.environ.get("LETTERS_CLIENT_IP_HEADER", "")
LETTERS_TRUSTED_PROXIES = env_networks("LETTERS_TRUSTED_PROXIES")
if LETTERS_CLIENT_IP_HEADER and not LETTERS_TRUSTED_PROXIES:
    raise ImproperlyConfigured(
        "LETTERS_CLIENT_IP_HEADER is set but LETTERS_TRUSTED_PROXIES is not: list the proxy "
        "addresses (or networks) whose header to believe, e.g. LETTERS_TRUSTED_PROXIES=10.0.0.2."
    )

# --- Councils ---------------------------------------------------------------------------------

# Ask Open North's Represent API which municipality and ward a postal code is in. Off by
# default: the lookup then uses its cache, the first-three-characters table and the province.
REPRESENT_LOOKUP_ENABLED = env_bool("REPRESENT_LOOKUP_ENABLED", False)
REPRESENT_API_URL = os.environ.get("REPRESENT_API_URL", "https://represent.opennorth.ca")
# Seconds to wait for Represent before the lookup moves on to its next step.
REPRESENT_TIMEOUT = env_int("REPRESENT_TIMEOUT", 5)
# Seconds between two requests to Represent, shared by all processes through the cache
# (Represent asks for fewer than one request per second).
REPRESENT_MIN_INTERVAL = 1.5
# The admin's representatives upload. A larger file is refused before it is read (a 60 MB file
# once grew a web process by 730 MB); so is one with more rows, whose import would hold a
# worker for too long. A file with more rows than DIRECTORY_UPLOAD_TASK_ROWS (about 5 s of
# work) is imported by a Celery task while the organizer watches its progress page.
DIRECTORY_UPLOAD_MAX_BYTES = env_int("DIRECTORY_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
DIRECTORY_UPLOAD_MAX_ROWS = env_int("DIRECTORY_UPLOAD_MAX_ROWS", 100_000)
DIRECTORY_UPLOAD_TASK_ROWS = env_int("DIRECTORY_UPLOAD_TASK_ROWS", 2000)
# A council's contacts not checked (imported, synced or checked by hand) for this many days
# are "stale" in the admin's filters.
DIRECTORY_STALE_DAYS = env_int("DIRECTORY_STALE_DAYS", 180)
# The optional periodic sync of the councils linked to a Represent set (off by default): beat
# runs it hourly, and it refreshes each roster last checked more than REPRESENT_SYNC_HOURS
# ago. A change adding or retiring more than REPRESENT_SYNC_MAX_AUTO_CHANGES members, or
# changing the mayor, waits for an organizer's approval (Councils > Directory imports).
REPRESENT_SYNC_ENABLED = env_bool("REPRESENT_SYNC_ENABLED", False)
REPRESENT_SYNC_HOURS = env_int("REPRESENT_SYNC_HOURS", 24)
REPRESENT_SYNC_MAX_AUTO_CHANGES = env_int("REPRESENT_SYNC_MAX_AUTO_CHANGES", 3)
if REPRESENT_SYNC_ENABLED:
    CELERY_BEAT_SCHEDULE["represent-sync"] = {
        "task": "councils.tasks.represent_sync_due",
        "schedule": 60 * 60,
    }
# "Wrong or outdated contact?" reports per hour from one IP address.
CONTACT_REPORTS_PER_IP = env_int("CONTACT_REPORTS_PER_IP", 10)

# --- Logging ----------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
