"""Email backends for tests that run a worker process, whose locmem outbox
the test cannot read."""

from __future__ import annotations

import os
from typing import Any

from django.core.mail.backends.filebased import EmailBackend


class DirectoryBackend(EmailBackend):
    """Django's file backend, writing under $TEST_EMAIL_DIR (the settings do
    not read EMAIL_FILE_PATH from the environment)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["file_path"] = os.environ["TEST_EMAIL_DIR"]
        super().__init__(*args, **kwargs)
