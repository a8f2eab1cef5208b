"""Settings of the floor project: what `django-admin startproject` plus DRF
gives, trimmed to the API. Its own database (FLOOR_DATABASE_URL) on the
product's server, the product's Redis as its broker (FLOOR_BROKER_URL)."""

from __future__ import annotations

import os

import dj_database_url

SECRET_KEY = "bench-floor-only-0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105 (a bench on loopback)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
ROOT_URLCONF = "bench.web_floor.urls"
WSGI_APPLICATION = "bench.web_floor.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "bench.web_floor",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
# Connections reused, as the product's are: kept per thread (CONN_MAX_AGE);
# with FLOOR_DATABASE_POOL=1, for gevent workers, where every connection to
# the server is a greenlet of its own, a pool of the product's default size.
if os.environ.get("FLOOR_DATABASE_POOL") == "1":
    DATABASES = {"default": dj_database_url.parse(os.environ["FLOOR_DATABASE_URL"], conn_max_age=0)}
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 2, "max_size": 10, "timeout": 5}
else:
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ["FLOOR_DATABASE_URL"], conn_max_age=60, conn_health_checks=True
        )
    }
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["bench.web_floor.authentication.Sha256TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser", "rest_framework.parsers.MultiPartParser"],
    "UNAUTHENTICATED_USER": None,
}
CELERY_BROKER_URL = os.environ["FLOOR_BROKER_URL"]
