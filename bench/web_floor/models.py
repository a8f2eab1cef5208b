from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Token(models.Model):
    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    # Declared: the type checker runs with the product's settings, where this
    # app is not installed.
    objects: models.Manager[Token] = models.Manager()

    def __str__(self) -> str:
        return self.digest[:8]


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    status = models.CharField(max_length=16, default="queued")
    prompt = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    objects: models.Manager[Job] = models.Manager()

    def __str__(self) -> str:
        return str(self.id)
