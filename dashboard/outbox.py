"""The development outbox: emails written as files instead of being sent, for
`make run` without a mail server. The workers send the emails, the web process
shows them (/dashboard/outbox), so the messages live in a directory both can
read: one `.eml` file per message under EMAIL_OUTBOX_DIR."""

from __future__ import annotations

import email
import email.policy
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

BACKEND = "dashboard.outbox.OutboxEmailBackend"
# <UTC time>-<random>.eml: sorts by time, and the name alone is the message ID.
_NAME = re.compile(r"^\d{8}T\d{12}-[0-9a-f]{32}\.eml$")


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        directory = Path(settings.EMAIL_OUTBOX_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex}.eml"
            # Written aside and renamed: the page never reads half a message.
            partial = directory / f".{name}.tmp"
            partial.write_bytes(message.message().as_bytes())
            os.replace(partial, directory / name)
            sent += 1
        return sent


@dataclass(frozen=True)
class OutboxMessage:
    id: str
    to: str
    subject: str
    sent_at: datetime
    body: str


def outbox_enabled() -> bool:
    """Development only: the page would show anyone every email sent."""
    return bool(settings.DEBUG) and settings.EMAIL_BACKEND == BACKEND


def _read(path: Path) -> OutboxMessage:
    parsed: Any = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    part = parsed.get_body(preferencelist=("plain",))
    return OutboxMessage(
        id=path.stem,
        to=str(parsed.get("To", "")),
        subject=str(parsed.get("Subject", "")),
        sent_at=datetime.strptime(path.stem.split("-")[0], "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC),
        body=part.get_content() if part is not None else "",
    )


def outbox_list(*, limit: int = 100) -> list[OutboxMessage]:
    """The newest messages first."""
    directory = Path(settings.EMAIL_OUTBOX_DIR)
    if not directory.is_dir():
        return []
    names = sorted((n for n in os.listdir(directory) if _NAME.match(n)), reverse=True)[:limit]
    return [_read(directory / name) for name in names]


def outbox_get(message_id: str) -> OutboxMessage | None:
    name = f"{message_id}.eml"
    # The name pattern keeps the lookup inside the directory.
    if not _NAME.match(name):
        return None
    path = Path(settings.EMAIL_OUTBOX_DIR) / name
    return _read(path) if path.is_file() else None
