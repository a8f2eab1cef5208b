"""Task entry points, one module per concern; imported here so that Celery's
autodiscovery (which imports `workers.tasks`) registers them all."""

from workers.tasks import billing, emails, health, local, recovery, solve, webhooks

__all__ = ["billing", "emails", "health", "local", "recovery", "solve", "webhooks"]
