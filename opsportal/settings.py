"""OpsPortal settings, read from the environment (django-environ).

Every variable is listed with a one-line comment in `.env.example`. With no environment at all the portal runs on
the embedded default: SQLite and Celery's filesystem broker under `var/`. Bad values fail here, at start-up, with
ImproperlyConfigured naming the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from opsportal.lib.config import (
    SQLITE_OPTIONS,
    broker_transport_options,
    env_bool,
    env_duration,
    env_float,
    env_int,
    env_list,
    env_prometheus_multiproc_dir,
    read_secret,
)
from opsportal.lib.database_urls import read_database_urls

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A `.env` file is read if present; real environment variables win over it. ENV_FILE="" disables it.
ENV_FILE = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE)

VAR_DIR = Path(os.environ.get("VAR_DIR") or BASE_DIR / "var").resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = read_secret("SECRET_KEY", default_file=VAR_DIR / "secret_key")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off: set SECRET_KEY, or SECRET_KEY_FILE to a file holding it "
            "(`make run` generates var/secret_key for the embedded default)."
        )
    SECRET_KEY = "django-insecure-debug-only-key"  # noqa: S105 (DEBUG only)
# Former keys, comma-separated, newest first: sessions and signed links made with them stay valid, and the secrets
# stored encrypted (channel URLs, probe passwords; opsportal/lib/secrets_at_rest.py) stay readable after a rotation.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The portal's own address (probes, links in notifications). By default the server `make run` starts: WEB_HOST and
# WEB_PORT (the Makefile and the Procfile use them), a wildcard bind reached on the loopback address.
_web_host = os.environ.get("WEB_HOST") or "127.0.0.1"
_web_host = "127.0.0.1" if _web_host in ("0.0.0.0", "::", "[::]") else _web_host  # noqa: S104 (not a bind)
_web_host = f"[{_web_host}]" if ":" in _web_host and not _web_host.startswith("[") else _web_host
PORTAL_URL = (os.environ.get("PORTAL_URL") or f"http://{_web_host}:{os.environ.get('WEB_PORT') or '8000'}").rstrip("/")

# The modules (documents, logistics, ...): their tables, health.py, perf.py, alerting.py and urls.py are picked up by
# discovery (opsportal/lib/registry.py); a module's urls.py is mounted at /<app_label>/.
EXTRA_APPS = env_list("EXTRA_APPS", [])

INSTALLED_APPS = [
    "opsportal.apps.OpsPortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # Our Japanese catalog for django-celery-beat: it must come before the app it translates (the first app listed
    # wins when catalogs define the same msgid).
    "opsportal.i18n.third_party.apps.ThirdPartyTranslationsConfig",
    "django_celery_beat",
    "opsportal.apps.OpsPortalConfig",
    "backups.apps.BackupsConfig",
    "monitoring.apps.MonitoringConfig",
    "performance.apps.PerformanceConfig",
    "alerting.apps.AlertingConfig",
    "dashboards.apps.DashboardsConfig",
    *EXTRA_APPS,
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "performance.middleware.RequestTimingMiddleware",
    "opsportal.lib.instance.InstanceHeaderMiddleware",  # before whitenoise: probes check which portal answered
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "opsportal.urls"
WSGI_APPLICATION = "opsportal.wsgi.application"
ASGI_APPLICATION = "opsportal.asgi.application"

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

# --- Database -------------------------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'opsportal.sqlite3'}"
try:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
except Exception as exc:  # django-environ raises several types for bad URLs
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from exc
if DATABASES["default"].get("ENGINE") not in {"django.db.backends.postgresql", "django.db.backends.sqlite3"}:
    raise ImproperlyConfigured(
        "DATABASE_URL must start with postgres:// (production) or sqlite:/// (embedded), "
        f"not {DATABASE_URL.split(':')[0]}:"
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL, immediate transactions and a busy timeout: no "database is locked" when processes write at one tick.
    DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
    # The rollup tables' unique constraints carry INCLUDE columns, which SQLite ignores; the rollup code does not
    # rely on them there (it replaces the recomputed hours), so Django's warning on every start says nothing useful.
    SILENCED_SYSTEM_CHECKS = ["models.W039"]
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
    # A database host that does not answer fails a connection in 10 s rather than after the kernel's TCP timeout
    # (about two minutes); DATABASE_URL=...?connect_timeout=N overrides it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 10)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------------------------
# The default is a file cache under var/ so that the web processes and the worker of one machine share it (the
# dashboards' long ranges are computed by the worker after each hourly rollup); production uses redis://.
CACHE_URL = os.environ.get("CACHE_URL") or f"filecache://{VAR_DIR / 'cache'}"
try:
    CACHES = {"default": env.cache_url_config(CACHE_URL)}
except Exception as exc:
    raise ImproperlyConfigured(f"CACHE_URL is not a valid cache URL: {exc}") from exc

# --- Auth, i18n, static ---------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "en")
LANGUAGES = [("en", "English"), ("ja", "日本語")]
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ImproperlyConfigured(f"LANGUAGE_CODE must be one of {', '.join(dict(LANGUAGES))}, not {LANGUAGE_CODE!r}.")
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
try:
    import zoneinfo

    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
    raise ImproperlyConfigured(f"TIME_ZONE {TIME_ZONE!r} is not a known time zone.") from exc
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [d for d in [BASE_DIR / "static"] if d.is_dir()]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": VAR_DIR / "media"}},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Tests and `runserver` work without collectstatic; gunicorn in production serves the collected files.
WHITENOISE_USE_FINDERS = True

# --- Security (production) ------------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
# Off by default so the embedded default works over plain http://127.0.0.1; production turns these on
# (see .env.example), and `manage.py check --deploy` then passes.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^api/system/health/"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Celery ---------------------------------------------------------------------------------------------------
# "localhost" only names the host (kombu warns on every connection without one); the folders are under VAR_DIR.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://localhost//"
if "://" not in CELERY_BROKER_URL:
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL must be a URL such as redis://host:6379/0, not {CELERY_BROKER_URL!r}."
    )
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL, VAR_DIR / "celery")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 2, minimum=1)

# --- Email and admins -----------------------------------------------------------------------------------------
EMAIL_URL = os.environ.get("EMAIL_URL", "consolemail://")
try:
    globals().update(env.email_url_config(EMAIL_URL))
except Exception as exc:
    raise ImproperlyConfigured(f"EMAIL_URL is not a valid email URL: {exc}") from exc
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "opsportal@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ADMINS = [("", address) for address in env_list("ADMINS", [])]

# --- Logging --------------------------------------------------------------------------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {LOG_LEVEL!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- Backups (see docs/guides/backup-and-restore.md) ----------------------------------------------------------
BACKUP_DIR = Path(os.environ.get("BACKUP_DIR") or VAR_DIR / "backups").resolve()
BACKUP_STALE_AFTER = env_duration("BACKUP_STALE_AFTER", "10m")
BACKUP_RPO = env_duration("BACKUP_RPO", "26h")
# Where backup files go: any Django storage (S3 by configuration); the default keeps files 0600 in folders 0700.
STORAGES["backups"] = {
    "BACKEND": "backups.storage.BackupFileSystemStorage",
    "OPTIONS": {"location": str(BACKUP_DIR)},
}
if os.environ.get("BACKUP_STORAGE_BACKEND"):
    import json as _json

    try:
        _backup_storage_options = _json.loads(os.environ.get("BACKUP_STORAGE_OPTIONS") or "{}")
    except ValueError:
        _backup_storage_options = None
    if not isinstance(_backup_storage_options, dict):
        raise ImproperlyConfigured('BACKUP_STORAGE_OPTIONS must be a JSON object, e.g. {"bucket_name": "backups"}.')
    STORAGES["backups"] = {"BACKEND": os.environ["BACKUP_STORAGE_BACKEND"], "OPTIONS": _backup_storage_options}
# Django database aliases dumped by every backup.
BACKUP_DATABASES = env_list("BACKUP_DATABASES", ["default"])
_missing_aliases = sorted(set(BACKUP_DATABASES) - set(DATABASES))
if _missing_aliases:
    raise ImproperlyConfigured(f"BACKUP_DATABASES names unknown database aliases: {', '.join(_missing_aliases)}.")
# PostgreSQL databases other than the portal's own, each backed up as `postgres:NAME` (opsportal/lib/database_urls.py):
# `NAME=URL` entries separated by commas, and/or a file of them, one a line. Name to settings dict (PASSWORD inside,
# which Django's error pages hide); a bad entry is reported by the system checks backups.E011-E015, not raised here.
_database_urls = read_database_urls(
    os.environ.get("BACKUP_DATABASE_URLS", ""),
    os.environ.get("BACKUP_DATABASE_URLS_FILE", ""),
    variable="BACKUP_DATABASE_URLS",
    portal=DATABASES["default"],
)
BACKUP_DATABASE_URLS = _database_urls.databases
BACKUP_DATABASE_URL_PROBLEMS = _database_urls.problems
# Files holding secrets (the project's .env by default, when it exists).
BACKUP_FILES = env_list("BACKUP_FILES", [str(BASE_DIR / ".env")] if (BASE_DIR / ".env").is_file() else [])
BACKUP_DOCKER_VOLUMES = env_list("BACKUP_DOCKER_VOLUMES", [])
BACKUP_DOCKER_IMAGE = os.environ.get("BACKUP_DOCKER_IMAGE") or "opsportal/busybox:local"
BACKUP_DOCKER_HOST = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
BACKUP_AGE_RECIPIENTS = env_list("BACKUP_AGE_RECIPIENTS", [])
for _recipient in BACKUP_AGE_RECIPIENTS:
    if not _recipient.startswith("age1"):
        raise ImproperlyConfigured(
            f"BACKUP_AGE_RECIPIENTS must list age public keys (age1...), not {_recipient[:12]!r}..."
        )
BACKUP_AGE_IDENTITY_FILE = os.environ.get("BACKUP_AGE_IDENTITY_FILE", "")
BACKUP_ZSTD_LEVEL = env_int("BACKUP_ZSTD_LEVEL", 3, minimum=1, maximum=22)
BACKUP_ZSTD_THREADS = env_int("BACKUP_ZSTD_THREADS", 0, minimum=-1, maximum=64)
BACKUP_PG_BIN_DIR = os.environ.get("BACKUP_PG_BIN_DIR", "")
BACKUP_RESTORE_NO_OWNER = env_bool("BACKUP_RESTORE_NO_OWNER", True)
# pg_restore -j for a PostgreSQL database restored in place (built beside it, then swapped in) and for drills.
# Read as text: a bad value is reported by the system check backups.E010 and 2 is used meanwhile.
BACKUP_RESTORE_JOBS = os.environ.get("BACKUP_RESTORE_JOBS", "2")
# Keep the database replaced by an in-place restore as <name>__before_restore_<id> (an undo, dropped by hand).
BACKUP_RESTORE_KEEP_PREVIOUS = env_bool("BACKUP_RESTORE_KEEP_PREVIOUS", False)
# pg_restore -j reads a decoded file: put it here (tmpfs) when it fits in the free space and memory, else on disk
# under VAR_DIR/restore-tmp. Empty: always on disk.
BACKUP_RESTORE_MEMORY_DIR = os.environ.get("BACKUP_RESTORE_MEMORY_DIR", "/dev/shm")  # noqa: S108 (own 0700 folder)
# Pages and the CLI promise progress at least every 2 s: the thread flushes this often (at most 2s).
BACKUP_PROGRESS_EVERY = env_duration("BACKUP_PROGRESS_EVERY", "1s")
if BACKUP_PROGRESS_EVERY.total_seconds() > 2:
    raise ImproperlyConfigured(
        f"BACKUP_PROGRESS_EVERY ({BACKUP_PROGRESS_EVERY}) must be at most 2s: the pages show progress that often."
    )
# A running backup whose byte count has not moved for this long is failed as stalled (its heartbeat alone is no proof).
BACKUP_STALL_AFTER = env_duration("BACKUP_STALL_AFTER", "10m")
if BACKUP_STALL_AFTER <= BACKUP_PROGRESS_EVERY:
    raise ImproperlyConfigured(
        f"BACKUP_STALL_AFTER ({BACKUP_STALL_AFTER}) must be longer than "
        f"BACKUP_PROGRESS_EVERY ({BACKUP_PROGRESS_EVERY}): a heartbeat must fit in it."
    )
# Every S3 call: connect and read timeout, and attempts (botocore's standard retries) before it fails.
BACKUP_S3_TIMEOUT = env_duration("BACKUP_S3_TIMEOUT", "60s")
BACKUP_S3_ATTEMPTS = env_int("BACKUP_S3_ATTEMPTS", 3, minimum=1, maximum=20)
# Removing the files of a failed run gives up after this long (the journal retries it later).
BACKUP_CLEANUP_TIMEOUT = env_duration("BACKUP_CLEANUP_TIMEOUT", "2m")
BACKUP_REAP_EVERY = env_duration("BACKUP_REAP_EVERY", "1m")
# Retention (grandfather-father-son), applied by the hourly prune and `manage.py prunebackups`.
BACKUP_KEEP_LAST = env_int("BACKUP_KEEP_LAST", 7, minimum=1)
BACKUP_KEEP_DAILY = env_int("BACKUP_KEEP_DAILY", 14, minimum=0)
BACKUP_KEEP_WEEKLY = env_int("BACKUP_KEEP_WEEKLY", 8, minimum=0)
BACKUP_KEEP_MONTHLY = env_int("BACKUP_KEEP_MONTHLY", 12, minimum=0)
BACKUP_MAX_AGE = env_duration("BACKUP_MAX_AGE", "400d")

# Physical backups and point-in-time recovery through pgBackRest (backups/physical/); off while the stanza is empty.
BACKUP_PGBACKREST_STANZA = os.environ.get("BACKUP_PGBACKREST_STANZA", "").strip()
BACKUP_PGBACKREST_BIN = os.environ.get("BACKUP_PGBACKREST_BIN") or "pgbackrest"
BACKUP_PGBACKREST_CONFIG = os.environ.get("BACKUP_PGBACKREST_CONFIG", "")
BACKUP_PGBACKREST_USER = os.environ.get("BACKUP_PGBACKREST_USER", "")
# PostgreSQL in a container (the `db-data` case): pgbackrest runs inside it through `docker exec` (DOCKER_HOST).
BACKUP_PGBACKREST_CONTAINER = os.environ.get("BACKUP_PGBACKREST_CONTAINER", "")
BACKUP_PGBACKREST_DATABASE = os.environ.get("BACKUP_PGBACKREST_DATABASE") or "default"
BACKUP_PGBACKREST_PG_PATH = os.environ.get("BACKUP_PGBACKREST_PG_PATH", "")
BACKUP_PGBACKREST_PG_SOCKET_PATH = os.environ.get("BACKUP_PGBACKREST_PG_SOCKET_PATH", "")
BACKUP_PGBACKREST_REPO_TYPE = (os.environ.get("BACKUP_PGBACKREST_REPO_TYPE") or "posix").strip().lower()
if BACKUP_PGBACKREST_REPO_TYPE not in ("posix", "s3"):
    raise ImproperlyConfigured(f"BACKUP_PGBACKREST_REPO_TYPE must be posix or s3, not {BACKUP_PGBACKREST_REPO_TYPE!r}.")
BACKUP_PGBACKREST_REPO_PATH = os.environ.get("BACKUP_PGBACKREST_REPO_PATH", "")
BACKUP_PGBACKREST_S3_BUCKET = os.environ.get("BACKUP_PGBACKREST_S3_BUCKET", "")
BACKUP_PGBACKREST_S3_ENDPOINT = os.environ.get("BACKUP_PGBACKREST_S3_ENDPOINT", "")
BACKUP_PGBACKREST_S3_REGION = os.environ.get("BACKUP_PGBACKREST_S3_REGION", "")
BACKUP_PGBACKREST_S3_URI_STYLE = (os.environ.get("BACKUP_PGBACKREST_S3_URI_STYLE") or "host").strip().lower()
if BACKUP_PGBACKREST_S3_URI_STYLE not in ("host", "path"):
    raise ImproperlyConfigured("BACKUP_PGBACKREST_S3_URI_STYLE must be host or path.")
BACKUP_PGBACKREST_S3_VERIFY_TLS = env_bool("BACKUP_PGBACKREST_S3_VERIFY_TLS", True)
BACKUP_PGBACKREST_S3_CA_FILE = os.environ.get("BACKUP_PGBACKREST_S3_CA_FILE", "")
BACKUP_PGBACKREST_S3_KEY_FILE = os.environ.get("BACKUP_PGBACKREST_S3_KEY_FILE", "")
BACKUP_PGBACKREST_S3_KEY_SECRET_FILE = os.environ.get("BACKUP_PGBACKREST_S3_KEY_SECRET_FILE", "")
# The repository passphrase (pgBackRest's own aes-256-cbc cipher) is read from this file at each command, and handed
# to pgBackRest through its environment (PGBACKREST_REPO1_CIPHER_PASS), never on a command line.
BACKUP_PGBACKREST_CIPHER_PASS_FILE = os.environ.get("BACKUP_PGBACKREST_CIPHER_PASS_FILE", "")
BACKUP_PGBACKREST_RETENTION_FULL = env_int("BACKUP_PGBACKREST_RETENTION_FULL", 2, minimum=1, maximum=9999999)
BACKUP_PGBACKREST_RETENTION_DIFF = env_int("BACKUP_PGBACKREST_RETENTION_DIFF", 0, minimum=0, maximum=9999999)
BACKUP_PGBACKREST_PROCESS_MAX = env_int("BACKUP_PGBACKREST_PROCESS_MAX", 1, minimum=1, maximum=64)
BACKUP_PGBACKREST_ARCHIVE_RPO = env_duration("BACKUP_PGBACKREST_ARCHIVE_RPO", "5m")
BACKUP_PGBACKREST_CHECK_EVERY = env_duration("BACKUP_PGBACKREST_CHECK_EVERY", "10m")
BACKUP_PGBACKREST_SCRATCH_DIR = Path(
    os.environ.get("BACKUP_PGBACKREST_SCRATCH_DIR") or VAR_DIR / "pitr-scratch"
).resolve()
BACKUP_PGBACKREST_RESTORE_TIMEOUT = env_duration("BACKUP_PGBACKREST_RESTORE_TIMEOUT", "2h")

# --- Monitoring (see docs/guides/monitoring.md) ---------------------------------------------------------------
HEALTH_DEADLINE = env_duration("HEALTH_DEADLINE", "3s")
# /api/system/health and /metrics share one run of the checks per process for this long ("0s" disables).
HEALTH_CACHE_TTL = env_duration("HEALTH_CACHE_TTL", "1s", allow_zero=True)
HEALTH_TOKEN = read_secret("HEALTH_TOKEN")
METRICS_TOKEN = read_secret("METRICS_TOKEN")
MONITOR_CHECK_TIMEOUT = env_duration("MONITOR_CHECK_TIMEOUT", "2s")
# Database connections the health checks, metrics and readiness probes hold at most, per process and database alias
# (monitoring/pool.py): however many requests run checks at once, they share these.
MONITOR_DB_CONNECTIONS = env_int("MONITOR_DB_CONNECTIONS", 2, minimum=1, maximum=64)
MONITOR_DISABLED_CHECKS = env_list("MONITOR_DISABLED_CHECKS", [])
MONITOR_HOSTNAME = os.environ.get("MONITOR_HOSTNAME", "")
MONITOR_HEARTBEAT_INTERVAL = env_duration("MONITOR_HEARTBEAT_INTERVAL", "30s")
# gunicorn (through gunicorn.conf.py) stores this host's report too, so a host without a Celery worker is monitored.
MONITOR_WEB_HOST_REPORT = env_bool("MONITOR_WEB_HOST_REPORT", True)
MONITOR_WORKER_STALE = env_duration("MONITOR_WORKER_STALE", "90s")
MONITOR_BEAT_STALE = env_duration("MONITOR_BEAT_STALE", "3m")
MONITOR_DISK_PATHS = env_list("MONITOR_DISK_PATHS", []) or ["/", str(BACKUP_DIR)]
MONITOR_DISK_WARNING = env_float("MONITOR_DISK_WARNING", 80.0, minimum=0, maximum=100)
MONITOR_DISK_CRITICAL = env_float("MONITOR_DISK_CRITICAL", 90.0, minimum=0, maximum=100)
MONITOR_MEMORY_WARNING = env_float("MONITOR_MEMORY_WARNING", 85.0, minimum=0, maximum=100)
MONITOR_MEMORY_CRITICAL = env_float("MONITOR_MEMORY_CRITICAL", 95.0, minimum=0, maximum=100)
MONITOR_LOAD_WARNING = env_float("MONITOR_LOAD_WARNING", 1.5, minimum=0)
MONITOR_LOAD_CRITICAL = env_float("MONITOR_LOAD_CRITICAL", 3.0, minimum=0)
MONITOR_DOCKER_URL = os.environ.get("MONITOR_DOCKER_URL", "unix:///var/run/docker.sock")
MONITOR_REQUIRED_CONTAINERS = env_list("MONITOR_REQUIRED_CONTAINERS", [])
MONITOR_SNAPSHOT_INTERVAL = env_duration("MONITOR_SNAPSHOT_INTERVAL", "20s")
MONITOR_RAW_RETENTION = env_duration("MONITOR_RAW_RETENTION", "7d")
MONITOR_ROLLUP_RETENTION = env_duration("MONITOR_ROLLUP_RETENTION", "365d")
for _low, _high in (
    ("MONITOR_DISK_WARNING", "MONITOR_DISK_CRITICAL"),
    ("MONITOR_MEMORY_WARNING", "MONITOR_MEMORY_CRITICAL"),
    ("MONITOR_LOAD_WARNING", "MONITOR_LOAD_CRITICAL"),
):
    if globals()[_low] > globals()[_high]:
        raise ImproperlyConfigured(f"{_low} ({globals()[_low]}) must not be above {_high} ({globals()[_high]}).")

# --- Performance (see docs/guides/performance.md) -------------------------------------------------------------
# How often beat probes every enabled target (the default schedule's interval; edit it later in the admin).
PERF_PROBE_INTERVAL = env_duration("PERF_PROBE_INTERVAL", "5m")
# Where probes send requests: the portal's own address as seen from the worker.
PERF_BASE_URL = (os.environ.get("PERF_BASE_URL") or PORTAL_URL).rstrip("/")
if not PERF_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"PERF_BASE_URL must start with http:// or https://, not {PERF_BASE_URL!r}.")
# Debian's Chromium; Playwright never downloads a browser of its own.
PERF_CHROMIUM_PATH = os.environ.get("PERF_CHROMIUM_PATH") or "/usr/bin/chromium"
PERF_PROBE_TIMEOUT = env_duration("PERF_PROBE_TIMEOUT", "30s")
# How many probes run at once over all workers (each holds a worker process for seconds); a probe finding every
# slot taken is queued again after PERF_PROBE_SLOT_WAIT, without holding a process meanwhile.
PERF_PROBE_CONCURRENCY = env_int("PERF_PROBE_CONCURRENCY", 1, minimum=1)
PERF_PROBE_SLOT_WAIT = env_duration("PERF_PROBE_SLOT_WAIT", "5s")
PERF_BUDGET_WINDOW = env_duration("PERF_BUDGET_WINDOW", "30m")
PERF_RESULT_RETENTION = env_duration("PERF_RESULT_RETENTION", "14d")
PERF_ROLLUP_RETENTION = env_duration("PERF_ROLLUP_RETENTION", "365d")
PERF_REQUEST_STAT_RETENTION = env_duration("PERF_REQUEST_STAT_RETENTION", "14d")
PERF_REQUEST_TIMING = env_bool("PERF_REQUEST_TIMING", True)
PERF_REQUEST_FLUSH_INTERVAL = env_duration("PERF_REQUEST_FLUSH_INTERVAL", "60s")
# prometheus-client's multiprocess folder: the request histogram of all gunicorn workers of this host, which
# gunicorn.conf.py creates as VAR_DIR/prometheus and empties at each start; None in a single process (runserver).
PROMETHEUS_MULTIPROC_DIR = env_prometheus_multiproc_dir()
# One line per probe request at INFO would flood the worker's log every few minutes; errors still show.
LOGGING["loggers"]["httpx"] = {"level": "WARNING"}

# --- Alerting (see docs/guides/alerting.md) -------------------------------------------------------------------
# How often beat re-evaluates the rules as a safety net (monitoring also triggers an evaluation after each snapshot).
ALERTING_EVALUATE_EVERY = env_duration("ALERTING_EVALUATE_EVERY", "1m")
# Attempts per notification before its delivery is marked failed.
ALERTING_DELIVERY_ATTEMPTS = env_int("ALERTING_DELIVERY_ATTEMPTS", 5, minimum=1, maximum=50)
# Wait before the first retry of a failed delivery; it doubles with every further attempt (plus up to 50 % jitter).
ALERTING_RETRY_BACKOFF = env_duration("ALERTING_RETRY_BACKOFF", "30s")
# Longest a single delivery attempt may take.
ALERTING_DELIVERY_TIMEOUT = env_duration("ALERTING_DELIVERY_TIMEOUT", "30s")
# How long recorded events (backup failed, budget breached) are kept for event rules and the admin.
ALERTING_EVENT_RETENTION = env_duration("ALERTING_EVENT_RETENTION", "7d")
