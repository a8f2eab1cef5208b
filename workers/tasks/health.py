from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from config.request_id import get_request_id

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="workers.tasks.health.ping_task")
def ping_task(self: Any) -> dict[str, Any]:
    """Round trip through broker, worker and result backend: returns who ran it."""
    logger.info("ping from %s", self.request.hostname)
    return {"pong": True, "hostname": self.request.hostname, "request_id": get_request_id()}
