from __future__ import annotations

from api.models import Job


def webhook_deliveries_create_for_event(*, job: Job, event_type: str) -> None:
    """Record the webhook deliveries a job event causes (none yet: the
    webhooks feature fills this in)."""
    return None
