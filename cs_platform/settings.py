"""Settings, read from the environment (django-environ).

`CS_ENV=development` (what `make run` and the tests set; the default when `DEBUG` is on) runs on the embedded
PostgreSQL and Redis of `cs_platform.embedded` when `DATABASE_URL` / `REDIS_URL` are missing: one code path, real
servers either way. Production (`CS_ENV=production`; the default with `DEBUG` off) refuses to load without a real
`SECRET_KEY`, with `DEBUG` on, or without both URLs (`cs_platform.deployment`; docs/operations.md, "Production
settings").
"""

import ipaddress
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from cs_platform import deployment, email_config, embedded, rate_limits
from cs_platform.logcontext import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# The brief's production is "DEBUG off"; an operator who also says CS_ENV=production is refused DEBUG on.
CS_ENV = deployment.environment(env("CS_ENV", default=deployment.DEVELOPMENT if DEBUG else deployment.PRODUCTION))
DEVELOPMENT = CS_ENV == deployment.DEVELOPMENT
SECRET_KEY = env("SECRET_KEY", default=deployment.DEVELOPMENT_SECRET_KEY if DEVELOPMENT else "")
# Former keys, still accepted for what they signed (sessions, customer tokens) while a new SECRET_KEY rolls out.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
if not DEVELOPMENT:
    deployment.refuse_unsafe_production(
        secret_key=SECRET_KEY,
        debug=DEBUG,
        database_url=env("DATABASE_URL", default=""),
        redis_url=env("REDIS_URL", default=""),
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS (docs/operations.md, "Production settings"). HSTS binds browsers for its whole duration, so it is the
# operator's choice; the redirect and the proxy's header belong to the TLS set-up in front of the workers.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# A load balancer's health check and Prometheus may speak plain HTTP to a worker.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
# `HTTP_X_FORWARDED_PROTO,https`: only behind a proxy that sets this header itself (and drops a client's own).
_PROXY_SSL_HEADER = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _PROXY_SSL_HEADER and (len(_PROXY_SSL_HEADER) != 2 or not _PROXY_SSL_HEADER[0].startswith("HTTP_")):
    raise ImproperlyConfigured(
        "SECURE_PROXY_SSL_HEADER must be a request header as Django names it and the value meaning HTTPS, "
        f"e.g. HTTP_X_FORWARDED_PROTO,https; not {','.join(_PROXY_SSL_HEADER)!r}"
    )
SECURE_PROXY_SSL_HEADER = tuple(_PROXY_SSL_HEADER) or None
# Cookies go over HTTPS only once production says it is served over HTTPS (a redirect or a TLS proxy's header):
# a Secure cookie set over plain HTTP is dropped by clients, and nobody could sign in to the admin.
_SERVED_OVER_HTTPS = not DEVELOPMENT and (SECURE_SSL_REDIRECT or SECURE_PROXY_SSL_HEADER is not None)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=_SERVED_OVER_HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=_SERVED_OVER_HTTPS)

INSTALLED_APPS = [
    "daphne",
    "cs_platform.admin_config.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "cs_platform",
    "routing",
    "customers",
    "agents",
    "chat",
    "audit",
    "privacy",
    "reports",
    "desk",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "cs_platform.content_policy.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The reader's language: the `django_language` cookie (set_language, the admin's switch), else the browser's
    # Accept-Language. The customers' pages take theirs from the widget's `lang` (customers/pages.py).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cs_platform.urls"
ASGI_APPLICATION = "cs_platform.asgi.application"

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
            ],
        },
    },
]

# The embedded servers only ever start in development: production refused to load without both URLs above.
DATABASE_URL = env("DATABASE_URL", default="") or embedded.ensure_postgres()
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
# One psycopg pool per process (Django's, from psycopg_pool): every request, thread and socket of a worker reuses
# its connections, and a burst of requests waits for one instead of opening more than PostgreSQL allows. (Kept
# connections, CONN_MAX_AGE, are one per thread under ASGI: a burst of HTTP requests exhausted max_connections.)
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=True)
DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
    "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
    "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
    "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
    # A connection the pool cannot make is retried in the background with a doubling delay (1, 2, 4, 8 s...): after
    # an outage of a minute, PostgreSQL would be back a minute before the pool looked. Giving up on a retry after
    # a few seconds lets the next request that waits start afresh, at once (docs/operations.md).
    "reconnect_timeout": env.float("DB_POOL_RECONNECT_TIMEOUT", default=3.0),
}

REDIS_URL = env("REDIS_URL", default="") or embedded.ensure_redis()
REDIS_PREFIX = env("REDIS_PREFIX", default="cs")
# The product's own Redis pools (presence, routing; cs_platform/redis_clients.py): at most this many connections
# per process, and a caller finding them all busy waits up to REDIS_POOL_TIMEOUT seconds for one.
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=500)
REDIS_POOL_TIMEOUT = env.float("REDIS_POOL_TIMEOUT", default=5.0)

CHANNEL_LAYER_BACKEND = env("CHANNEL_LAYER", default="pubsub")
_CHANNEL_LAYER_HOST = {
    "address": REDIS_URL,
    # redis-py's default 5 s socket timeout equals the layer's blocking read time; keep it well above.
    "socket_timeout": 30,
    "socket_connect_timeout": 5,
    # redis-py caps a pool at 100 connections and raises past it; the core layer needs one per blocked receive.
    "max_connections": env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=2000),
}
if CHANNEL_LAYER_BACKEND == "core":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [_CHANNEL_LAYER_HOST],
                "prefix": f"{REDIS_PREFIX}:layer",
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [_CHANNEL_LAYER_HOST], "prefix": f"{REDIS_PREFIX}:layer:"},
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
# The languages of every page, email and system message (docs/i18n.md): a business line's default, a customer's
# own when their widget said it, an agent's or supervisor's from the admin's language switch.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
# The translations: locale/zh_Hans/LC_MESSAGES/django.po and djangojs.po, compiled to .mo by `make`
# (cs_platform/locale.py).
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    # Chat attachments (chat.models.Attachment): under the data folder unless ATTACHMENT_STORAGE_BACKEND names
    # another Django storage, e.g. django-storages' S3 backend (README, "Configuration").
    "attachments": {
        "BACKEND": env("ATTACHMENT_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"),
        "OPTIONS": env.json("ATTACHMENT_STORAGE_OPTIONS", default={})
        or {"location": env("ATTACHMENT_ROOT", default=str(embedded.DATA_DIR / "attachments"))},
    },
}
WHITENOISE_USE_FINDERS = True
# WhiteNoise serves STATIC_ROOT too; make sure it exists before `collectstatic` ever ran.
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "media"))

# Every page (cs_platform/content_policy.py): nothing inline, nothing from elsewhere, framed by nobody; the chat
# page that the widget frames lets the business line's allowed origins frame it.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "object-src": [NONE],
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/admin/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "agents.authentication.QueryOrHeaderTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every REST error is `{"code", "message"}` with a code of `cs_platform.errors.ErrorCode`.
    "EXCEPTION_HANDLER": "cs_platform.rest.coded_exception_handler",
    # Proxies in front of the web workers whose X-Forwarded-For is trusted for the client's address (rate
    # limits); 0: the connection's own address, so a client cannot pick its address by sending the header.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Customer-service IM platform API",
    "DESCRIPTION": "REST API for widgets, apps and agents. The WebSocket protocol is in docs/protocol.md.",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ChannelEnum": "customers.models.Channel",
        "ConversationStatusEnum": "chat.models.ConversationStatus",
        "SenderEnum": "chat.models.Sender",
        "CloseReasonEnum": "chat.models.CloseReason",
        "PresenceEnum": "agents.models.Presence",
    },
}

# Routing: defaults for a new business line's timeouts, in seconds, and the safety-net sweep.
ROUTING_WAIT_TIMEOUT = env.int("ROUTING_WAIT_TIMEOUT", default=300)
ROUTING_AGENT_REPLY_TIMEOUT = env.int("ROUTING_AGENT_REPLY_TIMEOUT", default=120)
ROUTING_DISCONNECT_GRACE = env.int("ROUTING_DISCONNECT_GRACE", default=60)
ROUTING_IDLE_TIMEOUT = env.int("ROUTING_IDLE_TIMEOUT", default=900)
ROUTING_SWEEP_INTERVAL = env.float("ROUTING_SWEEP_INTERVAL", default=10.0)

# Live chat limits (documented in docs/protocol.md).
CHAT_MAX_FRAME_BYTES = env.int("CHAT_MAX_FRAME_BYTES", default=16 * 1024)
CHAT_MAX_BODY_CHARS = env.int("CHAT_MAX_BODY_CHARS", default=4000)
# Attachments (docs/protocol.md, "Attachments"): defaults for business lines that set no limits of their own. The
# types are MIME types as decided from a file's content (chat.files.ALL_TYPES lists every one it can decide).
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ATTACHMENT_ALLOWED_TYPES = env.list(
    "ATTACHMENT_ALLOWED_TYPES",
    default=[
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/zip",
    ],
)
# Seconds a download link in a message object stays valid; clients get fresh links from `sync` and the history.
ATTACHMENT_LINK_MAX_AGE = env.int("ATTACHMENT_LINK_MAX_AGE", default=24 * 3600)
# Largest image (width x height) an upload may decode to: an image takes 4 bytes a pixel in memory while its
# thumbnail is made, and a small file can claim billions of pixels (a decompression bomb).
ATTACHMENT_IMAGE_MAX_PIXELS = env.int("ATTACHMENT_IMAGE_MAX_PIXELS", default=64_000_000)
# Files one `message.send` may carry.
CHAT_MAX_ATTACHMENTS = 10
# Uploads never sent with a message are deleted this many seconds after their upload, by a beat task run every
# ATTACHMENT_CLEANUP_INTERVAL seconds.
ATTACHMENT_UNSENT_MAX_AGE = env.int("ATTACHMENT_UNSENT_MAX_AGE", default=24 * 3600)
ATTACHMENT_CLEANUP_INTERVAL = env.int("ATTACHMENT_CLEANUP_INTERVAL", default=3600)
# A virus scanner's hook: the dotted path of `scan(file, content_type) -> str | None`, called on every upload
# that passed the limits; a string refuses the file (`422 file_rejected`, the string is logged). Empty: none.
ATTACHMENT_SCANNER = env("ATTACHMENT_SCANNER", default="")
CHAT_RATE_PER_SECOND = env.int("CHAT_RATE_PER_SECOND", default=20)
CHAT_RATE_BURST = env.int("CHAT_RATE_BURST", default=40)
CHAT_SYNC_LIMIT = env.int("CHAT_SYNC_LIMIT", default=1000)
# Largest frame the server sends; `conversation.assigned` and `sync.result` are paged under it. Keep it well under
# Daphne's --websocket_max_message_size (1 MiB by default), and over the largest single message (under 25 KiB).
CHAT_MAX_OUTGOING_FRAME_BYTES = env.int("CHAT_MAX_OUTGOING_FRAME_BYTES", default=512 * 1024)
CHAT_HEARTBEAT_SECONDS = env.int("CHAT_HEARTBEAT_SECONDS", default=15)
CHAT_PRESENCE_TTL_SECONDS = env.int("CHAT_PRESENCE_TTL_SECONDS", default=45)
# Conversations in each list of an agent's `queue.snapshot` (waiting, missed): the first ones, oldest first.
CHAT_QUEUE_SNAPSHOT_LIMIT = env.int("CHAT_QUEUE_SNAPSHOT_LIMIT", default=100)
# Shortest time between two `queue.snapshot` frames on one agent socket; changes within it are coalesced.
CHAT_QUEUE_SNAPSHOT_INTERVAL = env.float("CHAT_QUEUE_SNAPSHOT_INTERVAL", default=1.0)
# Shortest time between two `monitor.snapshot` frames on one supervisor socket (`/ws/supervisor/`); changes within
# it are coalesced into one read after the last of them.
MONITOR_PUSH_INTERVAL = env.float("MONITOR_PUSH_INTERVAL", default=1.0)
# Sockets one customer token / one agent may hold open at once, on all workers together (0: no cap); past it the
# handshake is refused with close code 4429.
CHAT_MAX_SOCKETS_PER_CUSTOMER = env.int("CHAT_MAX_SOCKETS_PER_CUSTOMER", default=10)
CHAT_MAX_SOCKETS_PER_AGENT = env.int("CHAT_MAX_SOCKETS_PER_AGENT", default=20)
CUSTOMER_TOKEN_MAX_AGE = env.int("CUSTOMER_TOKEN_MAX_AGE", default=7 * 24 * 3600)
# Furthest ahead an expiring identity (`identity_expires`) may end: a leaked one works at most this long.
CUSTOMER_IDENTITY_MAX_AGE = env.int("CUSTOMER_IDENTITY_MAX_AGE", default=24 * 3600)
# Lifetime of an API token from `POST /api/auth/token/` (an agent's shift); a password change revokes it sooner.
AGENT_TOKEN_TTL = env.int("AGENT_TOKEN_TTL", default=12 * 3600)

# Data protection: how long transcripts are kept (a new business line's default, in days; 0 = forever), how
# often the retention sweep runs (seconds) and how many conversations one of its transactions deletes.
RETENTION_DAYS_DEFAULT = env.int("RETENTION_DAYS_DEFAULT", default=0)
RETENTION_SWEEP_INTERVAL = env.float("RETENTION_SWEEP_INTERVAL", default=3600.0)
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=200)

# Outgoing email (docs/operations.md, "Email"): one URL in django-environ's form; printed to the console when unset.
# Sent only by Celery tasks (notifications/tasks.py), retried with a growing delay when the SMTP server fails.
_EMAIL = email_config.email_settings(env("EMAIL_URL", default=email_config.DEFAULT_EMAIL_URL))
EMAIL_BACKEND = _EMAIL["EMAIL_BACKEND"]
EMAIL_HOST = _EMAIL["EMAIL_HOST"]
EMAIL_PORT = _EMAIL["EMAIL_PORT"]
EMAIL_HOST_USER = _EMAIL["EMAIL_HOST_USER"]
EMAIL_HOST_PASSWORD = _EMAIL["EMAIL_HOST_PASSWORD"]
EMAIL_USE_TLS = _EMAIL["EMAIL_USE_TLS"]
EMAIL_USE_SSL = _EMAIL["EMAIL_USE_SSL"]
EMAIL_TIMEOUT = _EMAIL["EMAIL_TIMEOUT"]
EMAIL_FILE_PATH = _EMAIL["EMAIL_FILE_PATH"]
DEFAULT_FROM_EMAIL = env("EMAIL_FROM", default="Customer service <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Seconds between an agent's answer to a missed conversation or left message and the email that carries it: the
# answers written meanwhile go out in one email, and a customer who came back reads them in the widget instead.
EMAIL_ANSWER_DELAY = env.int("EMAIL_ANSWER_DELAY", default=60)
# Attempts of an email after the first when the SMTP server refuses or fails, with a doubling delay (1 s, 2 s, 4 s,
# ... at most 10 minutes); then it is logged as lost.
EMAIL_MAX_RETRIES = env.int("EMAIL_MAX_RETRIES", default=8)

# Rate limits, in DRF's format (`30/m`; `none` turns one off), counted in Redis for all processes
# (cs_platform/rate_limits.py).
WIDGET_SESSION_RATE = rate_limits.rate_setting("WIDGET_SESSION_RATE", env("WIDGET_SESSION_RATE", default="30/m"))
LOGIN_RATE = rate_limits.rate_setting("LOGIN_RATE", env("LOGIN_RATE", default="10/m"))
ATTACHMENT_UPLOAD_RATE = rate_limits.rate_setting(
    "ATTACHMENT_UPLOAD_RATE", env("ATTACHMENT_UPLOAD_RATE", default="20/m")
)
# Transcripts a customer may have emailed (per customer, and per address they are sent to).
TRANSCRIPT_EMAIL_RATE = rate_limits.rate_setting("TRANSCRIPT_EMAIL_RATE", env("TRANSCRIPT_EMAIL_RATE", default="5/h"))

CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
# A task taken by a worker that never acknowledged it (acks_late: the worker was killed, or lost Redis while it ran)
# is delivered again once it has been unacknowledged this long; Redis must keep its data (docs/operations.md).
# Every task is idempotent, so one that runs longer than this merely runs twice.
_TASK_REDELIVERY_SECONDS = env.int("CELERY_VISIBILITY_TIMEOUT", default=300)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "global_keyprefix": f"{REDIS_PREFIX}:celery:",
    "visibility_timeout": _TASK_REDELIVERY_SECONDS,
    # Look for such tasks every few seconds (kombu's default looks every 100 s).
    "unacked_restore_interval": max(1, min(10, _TASK_REDELIVERY_SECONDS // 2)),
    "unacked_restore_throttle": 1,
}
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = f"{REDIS_PREFIX}-default"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# In the data folder (`CS_DATA_DIR`, default `.data/`): `make test` and its runs of `make run` keep their own.
CELERY_BEAT_SCHEDULE_FILENAME = str(embedded.DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "routing-sweep": {
        "task": "routing.tasks.sweep",
        "schedule": ROUTING_SWEEP_INTERVAL,
    },
    "retention-sweep": {
        "task": "privacy.tasks.retention_sweep",
        "schedule": RETENTION_SWEEP_INTERVAL,
    },
    "attachments-cleanup": {
        "task": "chat.tasks.attachments_cleanup",
        "schedule": ATTACHMENT_CLEANUP_INTERVAL,
    },
}

# Monitoring (docs/operations.md, "Monitoring"): who may read a web worker's `GET /metrics` (peer addresses or
# networks, or a bearer token), and the Celery worker's own metrics port (off when unset).
METRICS_ALLOWED_IPS = [
    ipaddress.ip_network(network, strict=False)
    for network in env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
]
METRICS_TOKEN = env("METRICS_TOKEN", default="")
CELERY_METRICS_PORT = env.int("CELERY_METRICS_PORT", default=None)
CELERY_METRICS_ADDRESS = env("CELERY_METRICS_ADDRESS", default="127.0.0.1")

# `plain` lines for people, or `json`: one object a line with the log context on each (cs_platform/logcontext.py).
LOGGING = logging_config(log_format=env("LOG_FORMAT", default="plain"), level=env("LOG_LEVEL", default="INFO"))
