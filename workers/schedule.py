"""Periodic tasks run by beat (all on the `maintenance` queue unless routed
otherwise). django-celery-beat copies these into its tables at startup, where
operators see them in the admin. One entry per task; times in seconds or
crontab (UTC)."""

from __future__ import annotations

from typing import Any

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {}
