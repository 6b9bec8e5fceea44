"""Sextant's settings: one module, driven by the environment.

The defaults *are* the embedded mode (`make run` with nothing installed): SQLite in WAL
mode, Celery on the embedded filesystem broker, an in-memory channel layer and files under
``var/``. Production switches each piece on with an environment variable (README.md lists
them) and sets ``SEXTANT_MODE=production``, which refuses to start without a ``SECRET_KEY``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


SEXTANT_MODE = env_str("SEXTANT_MODE", "embedded")
if SEXTANT_MODE not in {"embedded", "production"}:
    raise ImproperlyConfigured("SEXTANT_MODE must be 'embedded' or 'production'.")
PRODUCTION = SEXTANT_MODE == "production"

# Everything the embedded mode writes lives under one folder.
VAR_DIR = Path(env_str("SEXTANT_VAR_DIR", str(BASE_DIR / "var"))).resolve()


def _embedded_secret_key() -> str:
    # A key generated once per installation: stable across restarts, never shipped.
    path = VAR_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production mode refuses to start without one: "
            "generate 50+ random characters and set SECRET_KEY in the environment."
        )
    SECRET_KEY = _embedded_secret_key()

DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "channels",
    "studio.apps.StudioConfig",
    "wrangler.apps.WranglerConfig",
    "training.apps.TrainingConfig",
    "labeling.apps.LabelingConfig",
    "registry.apps.RegistryConfig",
    "endpoints.apps.EndpointsConfig",
    "monitor.apps.MonitorConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "studio.urls"
ASGI_APPLICATION = "studio.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "studio.context_processors.studio",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Under ASGI every request runs in a thread of its own, so persistent connections
        # are not reused and each request would open a new one (~10 ms): pool them.
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("SEXTANT_DB_POOL_MIN", 2),
            "max_size": env_int("SEXTANT_DB_POOL_MAX", 20),
        }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "sextant.sqlite3",
            "OPTIONS": {
                # WAL lets the web process read while a worker writes; IMMEDIATE takes the
                # write lock at BEGIN so concurrent writers wait instead of failing mid-way.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            "TEST": {"NAME": VAR_DIR / "test.sqlite3"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, channels -----------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "sextant",
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "sextant:ch"},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Celery ---------------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "sextantfs://localhost//")
if CELERY_BROKER_URL.startswith("sextantfs://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": env_float("SEXTANT_BROKER_POLLING", 0.02),
    }
else:
    # Unacked messages come back after this long; recovery itself relies on the job lease.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes the database connection around every task unless told to
# reuse it; reconnecting to PostgreSQL cost ~14 ms per job, most of the dispatch latency.
CELERY_DB_REUSE_MAX = 500
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Jobs -----------------------------------------------------------------------------
# A running job renews its lease every heartbeat; the reaper re-queues (or fails, past the
# attempt cap) any job whose lease has run out, so a dead worker costs at most
# LEASE + REAPER_INTERVAL seconds.
SEXTANT_JOB_HEARTBEAT_SECONDS = env_float("SEXTANT_JOB_HEARTBEAT_SECONDS", 5.0)
SEXTANT_JOB_LEASE_SECONDS = env_float("SEXTANT_JOB_LEASE_SECONDS", 30.0)
SEXTANT_REAPER_INTERVAL_SECONDS = env_float("SEXTANT_REAPER_INTERVAL_SECONDS", 10.0)
SEXTANT_JOB_MAX_ATTEMPTS = env_int("SEXTANT_JOB_MAX_ATTEMPTS", 3)
SEXTANT_WORKER_STALE_SECONDS = env_float("SEXTANT_WORKER_STALE_SECONDS", 45.0)
SEXTANT_AUTOSCALE_INTERVAL_SECONDS = env_float("SEXTANT_AUTOSCALE_INTERVAL_SECONDS", 5.0)
CELERY_BEAT_SCHEDULE = {
    "reap-stale-jobs": {
        "task": "studio.reap_jobs",
        "schedule": SEXTANT_REAPER_INTERVAL_SECONDS,
        "options": {"queue": "default", "expires": SEXTANT_REAPER_INTERVAL_SECONDS * 3},
    },
    # Model servers of a dead host start elsewhere; autoscaled variants follow their load.
    "maintain-endpoints": {
        "task": "endpoints.maintain",
        "schedule": SEXTANT_AUTOSCALE_INTERVAL_SECONDS,
        "options": {"queue": "default", "expires": SEXTANT_AUTOSCALE_INTERVAL_SECONDS * 3},
    },
}
CELERY_BEAT_SCHEDULE["maintain-labeling"] = {
    # Assignments past their time limit go back to the queue; drained jobs move on.
    "task": "labeling.maintain",
    "schedule": 10.0,
    "options": {"queue": "default", "expires": 30.0},
}
# Monitoring schedules: beat looks for due ones this often (cron fire times are minutes).
SEXTANT_MONITOR_TICK_SECONDS = env_float("SEXTANT_MONITOR_TICK_SECONDS", 20.0)
CELERY_BEAT_SCHEDULE["monitor-schedules"] = {
    "task": "monitor.tick",
    "schedule": SEXTANT_MONITOR_TICK_SECONDS,
    "options": {"queue": "default", "expires": SEXTANT_MONITOR_TICK_SECONDS * 3},
}
# Alert webhooks go only to URLs under these prefixes (scheme, host, port and path), set by
# an administrator: a project member cannot make the studio call any address it can reach.
SEXTANT_WEBHOOK_ALLOWLIST = env_list("SEXTANT_WEBHOOK_ALLOWLIST", [])
SEXTANT_WEBHOOK_TIMEOUT = env_float("SEXTANT_WEBHOOK_TIMEOUT", 5.0)
# Allows the diagnostic job kind that kills its own worker (tests, staging).
SEXTANT_DIAGNOSTICS_CRASH = env_bool("SEXTANT_DIAGNOSTICS_CRASH", False)
# Tests and notebooks may run jobs in-process instead of through the broker.
SEXTANT_RUN_JOBS_INLINE = env_bool("SEXTANT_RUN_JOBS_INLINE", False)

# --- Serving (endpoints) ------------------------------------------------------------------
# A model host's name (default: the machine's) and the address routers reach its servers at.
SEXTANT_MODEL_HOST_NAME = env_str("SEXTANT_MODEL_HOST_NAME", "")
SEXTANT_MODEL_HOST_ADDRESS = env_str("SEXTANT_MODEL_HOST_ADDRESS", "127.0.0.1")
# The address space (MiB) a model server may take: it runs uploaded models, which are code.
# A variant's memory_budget_mb plus 1 GiB is allowed when that is more; 0 sets no limit.
SEXTANT_MODEL_SERVER_MEMORY_MB = env_int("SEXTANT_MODEL_SERVER_MEMORY_MB", 4096)
# How long a deploy waits for its model servers to come up.
SEXTANT_DEPLOY_TIMEOUT = env_float("SEXTANT_DEPLOY_TIMEOUT", 180.0)
# The largest invocation body (SageMaker's limit), and how often routers look for changes.
SEXTANT_INVOCATION_MAX_BYTES = env_int("SEXTANT_INVOCATION_MAX_BYTES", 6 * 1024 * 1024)
SEXTANT_ROUTES_REFRESH_SECONDS = env_float("SEXTANT_ROUTES_REFRESH_SECONDS", 0.5)
# Paths the ASGI application hands to a lean app instead of Django (the invocation path).
SEXTANT_ASGI_MOUNTS = [
    ("/invocations/", "endpoints.serving:application"),
    ("/v2/", "endpoints.serving:application"),
    ("/api/v1/labeling-jobs/", "labeling.fastpath:application"),
    ("/api/v1/assignments/", "labeling.fastpath:application"),
]
# Threads (each with its database connection) that serve the labeling queue's hot path;
# SQLite takes one writer at a time, so more threads would only queue on its lock.
SEXTANT_LABELING_THREADS = env_int(
    "SEXTANT_LABELING_THREADS", 8 if DATABASE_URL.startswith("postgres") else 2
)

# --- Storage --------------------------------------------------------------------------
STORAGE_ROOT = Path(env_str("SEXTANT_STORAGE_ROOT", str(VAR_DIR / "storage")))
SEXTANT_STORAGE_BACKEND = env_str("SEXTANT_STORAGE_BACKEND", "filesystem")
if SEXTANT_STORAGE_BACKEND == "s3":
    _default_storage: dict[str, object] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }
else:
    STORAGE_ROOT.mkdir(parents=True, exist_ok=True)
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(STORAGE_ROOT), "base_url": None},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
FILE_UPLOAD_TEMP_DIR = str(VAR_DIR / "tmp")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "studio.uploads.LargeChunkMemoryHandler",
    "studio.uploads.LargeChunkTemporaryFileHandler",
]
FILE_UPLOAD_PERMISSIONS = 0o640
SEXTANT_MAX_UPLOAD_BYTES = env_int("SEXTANT_MAX_UPLOAD_BYTES", 20 * 1024**3)
# Processing jobs (flows, user scripts) run in a subprocess with these limits.
SEXTANT_PROCESSING_MEMORY_MB = env_int("SEXTANT_PROCESSING_MEMORY_MB", 8192)
SEXTANT_PROCESSING_TIMEOUT = env_int("SEXTANT_PROCESSING_TIMEOUT", 6 * 3600)
# Whole-table steps of processing jobs run on Dask: this scheduler, or a LocalCluster in the
# job's process when empty. Its workers must mount the job folders at the same path.
DASK_SCHEDULER_ADDRESS = os.environ.get("DASK_SCHEDULER_ADDRESS", "")
# How long the editor waits for a worker to preview a node that depends on custom code.
SEXTANT_WORKER_PREVIEW_TIMEOUT = env_int("SEXTANT_WORKER_PREVIEW_TIMEOUT", 60)

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "studio.staticfinders.PackagedAssetsFinder",
]
# The embedded mode serves static files straight from their sources: no collectstatic.
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_AUTOREFRESH = DEBUG

# --- Auth, API ------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "studio.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "studio.api.errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Sextant API",
    "DESCRIPTION": "Projects, datasets and jobs of the Sextant ML studio.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # One name for a choice set that several fields share.
    "ENUM_NAME_OVERRIDES": {
        "LabelingTaskTypeEnum": "labeling.models.TaskType",
        "MonitoringBaselineStatusEnum": "monitor.models.BaselineStatus",
        "MonitoringScheduleStatusEnum": "monitor.models.ScheduleStatus",
        "MonitoringExecutionStatusEnum": "monitor.models.ExecutionStatus",
    },
}

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Security -------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# Monitoring alerts go out through these (an SMTP server in production).
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "sextant@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per task received and succeeded (the reaper runs every 10 s) is noise;
        # job logs live with each job.
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
    },
}
