"""Task entry points, one module per queue; imported here so that Celery's
autodiscovery (which imports `workers.tasks`) registers them all."""

from workers.tasks import billing as billing
from workers.tasks import emails as emails
from workers.tasks import health
from workers.tasks import webhooks as webhooks

__all__ = ["health"]
from workers.tasks import recovery as recovery
from workers.tasks import solve as solve
