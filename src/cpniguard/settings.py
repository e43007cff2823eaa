"""Django settings. Everything that differs per deployment comes from the environment.

`CPNIGUARD_HOME` holds the data (default `./var`); `DATABASE_URL=postgresql://...` selects
PostgreSQL instead of the embedded SQLite database; `CPNIGUARD_POLICY` points at an operator's
policy file replacing the shipped default.
"""

from __future__ import annotations

import os
from typing import Any

import dj_database_url

from cpniguard.home import home, secret_file

HOME = home()
BASE_DIR = HOME
SECRET_KEY = os.environ.get("CPNIGUARD_SECRET_KEY") or secret_file("django-secret-key")
DEBUG = os.environ.get("CPNIGUARD_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("CPNIGUARD_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served locally: no CDN on closed networks
    "cpniguard.accounts",
    "cpniguard.audit",
    "cpniguard.subscribers",
    "cpniguard.connectivity",
    "cpniguard.quality",
    "cpniguard.retention",
    "cpniguard.legal",
    "cpniguard.web",
    "cpniguard.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "cpniguard.web.middleware.RequestIdMiddleware",
    "cpniguard.web.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cpniguard.urls"
WSGI_APPLICATION = "cpniguard.wsgi.application"
AUTH_USER_MODEL = "accounts.StaffUser"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"

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
                "cpniguard.web.context.navigation",
            ]
        },
    }
]


def _database() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL")
    if url:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
        return config
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(HOME / "cpniguard.sqlite3"),
        # WAL lets the web server read while a CLI import writes; IMMEDIATE avoids
        # SQLITE_BUSY upgrades from read to write locks inside a transaction.
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        },
        "TEST": {"NAME": str(HOME / "test-cpniguard.sqlite3")},
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = str(HOME / "static")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
SESSION_COOKIE_AGE = 8 * 3600
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Strict"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind TLS in production the operator sets CPNIGUARD_SECURE=1.
if os.environ.get("CPNIGUARD_SECURE") == "1":
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["cpniguard.accounts.tokens.StaffTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "cpniguard.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "cpniguard API",
    "DESCRIPTION": "Purpose-bound access to customer records (CPNI) and the audit trail. "
    "Every read declares a purpose and, where the policy requires it, a reference.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # A token typed into the reference page is forgotten with the tab, never kept on disk.
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": False},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CPNIGUARD_LOG_LEVEL", "WARNING")},
}
