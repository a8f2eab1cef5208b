"""Webhook secrets, settings and deliveries.

A delivery is recorded in the transaction of the job transition that caused
it, then published to the `webhooks` queue after commit. Retries are not
Celery retries: a failed attempt writes the time of the next one
(`next_attempt_at`) and `webhook_deliveries_dispatch_due`, run by beat every
few seconds, publishes what is due. Each attempt number is claimed with a
conditional update, so duplicate messages (broker redelivery, two dispatchers,
a redelivery racing the dispatcher) never send the same attempt twice.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from api import events
from api.models import Job
from api.representation import job_representation
from api.webhooks import sender
from api.webhooks.models import WebhookAccount, WebhookAttempt, WebhookDelivery
from api.webhooks.signing import USER_AGENT, secret_generate, signed_headers
from api.webhooks.validation import url_for_log, validate_webhook_url, webhook_target_resolve
from config import rows
from config.problems import Problem
from workers.publish import task_publish_on_commit

logger = logging.getLogger(__name__)

DELIVER_TASK_NAME = "workers.tasks.webhooks.deliver_webhook_task"
# Job event type -> the name clients use in webhook_events.
EVENT_FILTER = {
    events.STARTED: "started",
    events.SUCCEEDED: "completed",
    events.FAILED: "completed",
    events.CANCELED: "completed",
}
WEBHOOK_EVENTS = ("completed", "started")


# --- Account: secret and default URL ---------------------------------------------------


def webhook_account_get_or_create(*, user: User) -> WebhookAccount:
    """The user's webhook account, with a fresh secret on first use."""
    account, _ = WebhookAccount.objects.get_or_create(user=user, defaults={"secret": secret_generate()})
    return account


def webhook_secret_rotate(*, user: User) -> WebhookAccount:
    webhook_account_get_or_create(user=user)
    with transaction.atomic():
        # Locked so two rotations at once cannot both keep the same "previous"
        # secret and lose the one in between.
        account = WebhookAccount.objects.select_for_update().get(user=user)
        now = timezone.now()
        account.previous_secret = account.secret
        account.previous_secret_expires_at = now + timedelta(
            seconds=settings.WEBHOOK_SECRET_ROTATION_OVERLAP_S
        )
        account.secret = secret_generate()
        account.secret_created_at = now
        account.save(
            update_fields=[
                "previous_secret",
                "previous_secret_expires_at",
                "secret",
                "secret_created_at",
                "updated_at",
            ]
        )
    return account


def webhook_settings_update(
    *, user: User, default_url: str | None = None, default_events: list[str] | None = None
) -> WebhookAccount:
    """Change the account's default URL and/or events (None leaves a value as
    it is). Setting a URL, even the same one, re-enables it after a 410.

    Raises django ValidationError if the URL is refused (see validation.py)."""
    if default_url:
        validate_webhook_url(default_url)
    account = webhook_account_get_or_create(user=user)
    fields = ["updated_at"]
    if default_url is not None:
        account.default_url = default_url
        account.default_url_disabled_at = None
        account.default_url_disabled_reason = ""
        fields += ["default_url", "default_url_disabled_at", "default_url_disabled_reason"]
    if default_events is not None:
        account.default_events = sorted(set(default_events))
        fields.append("default_events")
    account.save(update_fields=fields)
    return account


# --- Deliveries --------------------------------------------------------------------------


def _target(job: Job) -> tuple[str, list[str]] | None:
    """Where a job's events go and which of them: the job's own URL with its
    events, or else the account's default URL with the events of both."""
    if job.webhook_url:
        return job.webhook_url, list(job.webhook_events or [])
    account = _account(job)
    if account is None or not account.default_url or account.default_url_disabled_at is not None:
        return None
    return account.default_url, sorted({*(job.webhook_events or []), *(account.default_events or [])})


def _account(job: Job) -> WebhookAccount | None:
    """The job's account's webhook settings: as loaded with the job (by
    job_mark_running, or select_related of its user), else read now."""
    if job.webhook_account_loaded:
        return cast("WebhookAccount | None", job.webhook_account)
    if Job.user.is_cached(job) and User.webhooks.is_cached(job.user):
        # None when the join found no settings.
        return getattr(job.user, "webhooks", None)
    return webhook_account_read(user_id=job.user_id)


def webhook_account_read(*, user_id: int) -> WebhookAccount | None:
    """The account's webhook settings, None if it has none. Read for the
    events of every job, so through a cursor (config/rows.py)."""
    table, user_column = rows.table(WebhookAccount), rows.column(WebhookAccount, "user")
    sql = f"SELECT {rows.columns(WebhookAccount)} FROM {table} WHERE {user_column} = %s"  # noqa: S608
    with rows.prepared_cursor() as cursor:
        cursor.execute(sql, [user_id])
        row = cursor.fetchone()
    return None if row is None else rows.instance(WebhookAccount, row)


def _lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.WEBHOOK_LEASE_S)


def webhook_event_wanted(*, job: Job, event_type: str) -> bool:
    """Whether the job has a webhook for this event, which its transition
    then records (webhook_deliveries_create_for_event)."""
    return _event_url(job, event_type) is not None


def webhook_started_unwanted_sql(job_table: str) -> str:
    """SQL that is true of a row of `job_table` (a job) whose start no
    webhook asks for: neither the job's events nor its account's default
    events name "started". _target sends `job.started` only where one of
    them does, so this is never true where it would send it (PostgreSQL's
    jsonb). For job_mark_running, whose claim needs no transaction then."""
    job_events, job_user = rows.column(Job, "webhook_events"), rows.column(Job, "user")
    account_user = rows.column(WebhookAccount, "user")
    account_events = rows.column(WebhookAccount, "default_events")
    started = f"'[\"{EVENT_FILTER[events.STARTED]}\"]'::jsonb"
    return (
        f"NOT ({job_table}.{job_events} @> {started} OR EXISTS (SELECT 1 FROM {rows.table(WebhookAccount)} a"  # noqa: S608  (names from the models)
        f" WHERE a.{account_user} = {job_table}.{job_user} AND a.{account_events} @> {started}))"
    )


def _event_url(job: Job, event_type: str) -> str | None:
    target = _target(job)
    return target[0] if target is not None and EVENT_FILTER.get(event_type) in target[1] else None


def webhook_deliveries_create_for_event(*, job: Job, event_type: str) -> list[WebhookDelivery]:
    """Record the delivery a job event causes (if the job has a webhook for
    it) and publish its first attempt once the transaction commits.

    Called inside the transaction of the job transition, so the delivery
    exists if and only if the transition did."""
    url = _event_url(job, event_type)
    if url is None:
        return []
    now = timezone.now()
    payload = {"type": event_type, "timestamp": now.isoformat(), "data": job_representation(job)}
    delivery_id = uuid.uuid4()
    delivery = WebhookDelivery.objects.create(
        id=delivery_id,
        webhook_id=f"msg_{delivery_id.hex}",
        user_id=job.user_id,
        job=job,
        event_type=event_type,
        url=url,
        body=json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")),
        request_id=job.request_id,
        next_attempt_at=now,
        # Claimed for the publish below; if that message is lost, the
        # dispatcher takes over when the lease runs out.
        lease_expires_at=_lease_until(now),
        created_at=now,
    )
    _publish(delivery, number=1, manual=False)
    return [delivery]


def _publish(delivery: WebhookDelivery, *, number: int, manual: bool) -> None:
    # If the publish fails the delivery stays due, claimed by its lease; the
    # dispatcher publishes it once the lease expires.
    task_publish_on_commit(
        DELIVER_TASK_NAME,
        args=[str(delivery.pk), number],
        kwargs={"manual": manual},
        request_id=delivery.request_id,
    )


def webhook_deliveries_dispatch_due(*, limit: int | None = None) -> int:
    """Publish the deliveries whose next attempt is due. Returns how many.

    1. Pick pending deliveries due now that no attempt holds (no lease, or
       its lease expired: the worker died or the message was lost).
    2. Claim each with a conditional update on the same condition; of two
       dispatchers running at once, one wins each row.
    3. Publish the claimed ones as attempt `attempt_count + 1`.

    A due delivery that already had every attempt of the schedule (its
    attempts were claimed but their outcome never recorded: the worker died
    each time) is marked failed instead of being sent again.
    """
    now = timezone.now()
    batch = limit or settings.WEBHOOK_DISPATCH_BATCH
    due = Q(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now) & (
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now)
    )
    exhausted = Q(schedule_step__gte=len(settings.WEBHOOK_RETRY_SCHEDULE_S))
    for pk in WebhookDelivery.objects.filter(due & exhausted).values_list("pk", flat=True)[:batch]:
        _fail_exhausted(pk, due & exhausted, now)
    candidates = list(
        WebhookDelivery.objects.filter(due & ~exhausted)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:batch]
    )
    published = 0
    for pk in candidates:
        if not WebhookDelivery.objects.filter(due & ~exhausted, pk=pk).update(
            lease_expires_at=_lease_until(now)
        ):
            continue
        delivery = WebhookDelivery.objects.only("pk", "attempt_count", "request_id").get(pk=pk)
        _publish(delivery, number=delivery.attempt_count + 1, manual=False)
        published += 1
    return published


def _fail_exhausted(pk: uuid.UUID, condition: Q, now: datetime) -> None:
    error = (
        f"Gave up after the {len(settings.WEBHOOK_RETRY_SCHEDULE_S)} attempts of the schedule; "
        "the outcome of the last one was never recorded."
    )
    if WebhookDelivery.objects.filter(condition, pk=pk).update(
        status=WebhookDelivery.Status.FAILED,
        next_attempt_at=None,
        lease_expires_at=None,
        last_error=error,
        completed_at=now,
        updated_at=now,
    ):
        logger.error("Webhook delivery %s: %s", pk, error)


def _redelivery_key(delivery_id: uuid.UUID | str) -> str:
    return f"webhooks:redelivery-in-flight:{delivery_id}"


def _redelivery_in_flight(delivery: WebhookDelivery) -> Problem:
    until = cache.get(_redelivery_key(delivery.pk)) or 0
    wait = max(1, math.ceil(until - time.time()))
    return Problem(
        status=429,
        slug="redelivery-in-flight",
        detail="A redelivery of this delivery is still in flight; try again when it has finished.",
        headers={"Retry-After": str(wait)},
    )


def webhook_delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now, with the same webhook-id (and a fresh
    timestamp and signature); if that fails, the retry schedule starts over.

    An attempt in flight meanwhile still sends and logs its attempt row, but
    its outcome leaves the delivery alone, so this redelivery is always made.

    One redelivery at a time (429 redelivery-in-flight): the marker lives in
    the cache until the redelivery's attempt is recorded, or for one lease
    if that attempt never runs (a worker died; the dispatcher resends it)."""
    until = time.time() + settings.WEBHOOK_LEASE_S
    if not cache.add(_redelivery_key(delivery.pk), until, settings.WEBHOOK_LEASE_S):
        raise _redelivery_in_flight(delivery)
    with transaction.atomic():
        # Locked: the state is read to number the attempt.
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        now = timezone.now()
        delivery.status = WebhookDelivery.Status.PENDING
        delivery.schedule_step = 0
        delivery.next_attempt_at = now
        delivery.lease_expires_at = _lease_until(now)
        delivery.completed_at = None
        # An attempt already claimed (maybe in flight) must not record its
        # outcome over this: a success would end the delivery before the
        # redelivery is sent, a failure would reschedule it.
        delivery.redelivered_after_attempt = delivery.attempt_count
        delivery.save(
            update_fields=[
                "status",
                "schedule_step",
                "redelivered_after_attempt",
                "next_attempt_at",
                "lease_expires_at",
                "completed_at",
                "updated_at",
            ]
        )
        number = delivery.attempt_count + 1
        _publish(delivery, number=number, manual=True)
    return delivery


# --- One attempt ---------------------------------------------------------------------------


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        # "-0000" (RFC 5322: UTC, zone of origin unknown) parses as naive.
        when = when.replace(tzinfo=UTC)
    return max((when - timezone.now()).total_seconds(), 0.0)


def _next_delay(*, step: int, status_code: int | None, retry_after: str | None) -> float | None:
    """Seconds until attempt `step` of the schedule (None: schedule exhausted)."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE_S
    if step >= len(schedule):
        return None
    # Jitter spreads the retries of many deliveries that failed together.
    delay: float = schedule[step] * random.uniform(0.9, 1.1)  # noqa: S311 (not security)
    if status_code in (429, 503):
        wait = _retry_after_seconds(retry_after)
        if wait is not None:
            delay = max(delay, min(wait, settings.WEBHOOK_RETRY_AFTER_MAX_S))
    return delay


def _send(delivery: WebhookDelivery) -> tuple[sender.SendResult, bool]:
    """Sign and POST the delivery. Returns the result and whether a failure
    is permanent (the URL is refused)."""
    try:
        target, address = webhook_target_resolve(delivery.url)
    except ValidationError as exc:
        return sender.SendResult(None, "", "Refused: " + " ".join(exc.messages), 0, None), True
    except OSError as exc:
        return sender.SendResult(None, "", f"DNS resolution failed: {exc}", 0, None), False
    account = webhook_account_get_or_create(user=delivery.user)
    headers = signed_headers(
        signing_secrets=account.signing_secrets(),
        webhook_id=delivery.webhook_id,
        timestamp=int(time.time()),
        body=delivery.body,
    )
    headers.update({"Content-Type": "application/json", "User-Agent": USER_AGENT})
    if delivery.request_id:
        headers["X-Request-ID"] = delivery.request_id
    result = sender.post(
        url=delivery.url,
        target=target,
        address=address,
        headers=headers,
        body=delivery.body,
        connect_timeout_s=settings.WEBHOOK_CONNECT_TIMEOUT_S,
        total_timeout_s=settings.WEBHOOK_TOTAL_TIMEOUT_S,
        max_body_bytes=settings.WEBHOOK_RESPONSE_BODY_MAX_BYTES,
    )
    return result, False


def _stop_url(delivery: WebhookDelivery, now: datetime) -> None:
    """410 Gone: the receiver asks us to stop. End the user's other pending
    deliveries to that URL and disable it if it is their default URL."""
    reason = "The receiver answered 410 Gone."
    WebhookDelivery.objects.filter(
        user_id=delivery.user_id, url=delivery.url, status=WebhookDelivery.Status.PENDING
    ).exclude(pk=delivery.pk).update(
        status=WebhookDelivery.Status.FAILED,
        next_attempt_at=None,
        lease_expires_at=None,
        last_error=reason,
        completed_at=now,
        updated_at=now,
    )
    WebhookAccount.objects.filter(
        user_id=delivery.user_id, default_url=delivery.url, default_url_disabled_at__isnull=True
    ).update(default_url_disabled_at=now, default_url_disabled_reason=reason, updated_at=now)


def _outcome(
    delivery: WebhookDelivery, result: sender.SendResult, *, permanent: bool, now: datetime
) -> dict[str, Any]:
    """The delivery's new state after an attempt: succeeded (2xx); failed
    (410 Gone, refused URL, schedule exhausted); else pending until the next
    attempt of the schedule."""
    code = result.status_code
    error = result.error or (f"HTTP {code}" if code is not None and not 200 <= code < 300 else "")
    changes: dict[str, Any] = {
        "last_status_code": code,
        "last_error": error,
        "lease_expires_at": None,
        "updated_at": now,
    }
    if code is not None and 200 <= code < 300:
        changes.update(status=WebhookDelivery.Status.SUCCEEDED, next_attempt_at=None, completed_at=now)
        return changes
    # The claim counted this attempt: the next one is step `schedule_step`.
    step = delivery.schedule_step
    delay = None
    if not permanent and code != 410:
        delay = _next_delay(step=step, status_code=code, retry_after=result.retry_after)
    if delay is None:
        changes.update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None, completed_at=now)
    else:
        changes.update(next_attempt_at=now + timedelta(seconds=delay))
    return changes


def _scrub(text: str, url: str) -> str:
    """`text` (an error message) without the URL's credentials or query, and
    without NUL characters, which PostgreSQL text cannot hold."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    text = text.replace(url, url_for_log(url))
    if userinfo:
        text = text.replace(userinfo + "@", "")
    if parts.query:
        text = text.replace("?" + parts.query, "")
    return text.replace("\x00", "\ufffd")


def _send_and_judge(
    delivery: WebhookDelivery, *, number: int
) -> tuple[sender.SendResult, datetime, dict[str, Any]]:
    """Send, then work out the new state (`_outcome`). Never raises: an
    unexpected error is a failed attempt like any other, on the schedule."""
    started = time.monotonic()
    result: sender.SendResult | None = None
    try:
        result, permanent = _send(delivery)
        result = replace(result, error=_scrub(result.error, delivery.url))
        now = timezone.now()
        return result, now, _outcome(delivery, result, permanent=permanent, now=now)
    except Exception as exc:
        logger.exception(
            "Webhook delivery %s attempt %s to %s: unexpected error",
            delivery.webhook_id,
            number,
            url_for_log(delivery.url),
        )
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        error = _scrub(f"Internal error: {detail}", delivery.url)
        if result is None:
            latency_ms = int((time.monotonic() - started) * 1000)
            result = sender.SendResult(None, "", error, latency_ms, None)
        else:
            result = replace(result, error=error, retry_after=None)
        now = timezone.now()
        return result, now, _outcome(delivery, result, permanent=False, now=now)


def webhook_delivery_attempt(
    *, delivery_id: uuid.UUID | str, number: int, manual: bool = False, task_id: str = ""
) -> WebhookAttempt | None:
    """Make attempt `number` of a delivery, unless someone else did.

    1. Claim: move attempt_count from number - 1 to number while pending,
       and count the attempt in the schedule. No row updated means another
       message made (or is making) this attempt, or the delivery ended: do
       nothing.
    2. Log the attempt (in flight), then resolve, check, sign and send,
       outside any transaction. Any error there is recorded as a failed
       attempt, never left unrecorded.
    3. Record the outcome on the attempt and, unless a newer attempt has
       claimed the delivery or it was redelivered meanwhile, on the delivery
       (see `_outcome`). Both checks are in the conditional update, so an
       older attempt never overwrites what a newer claim or redelivery wrote.
    """
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, attempt_count=number - 1
    ).update(
        attempt_count=number,
        schedule_step=F("schedule_step") + 1,
        # Short: the attempt ends within WEBHOOK_TOTAL_TIMEOUT_S, so a lease
        # still unrecorded after this means its worker died.
        lease_expires_at=now + timedelta(seconds=settings.WEBHOOK_ATTEMPT_LEASE_S),
        updated_at=now,
    )
    if not claimed:
        logger.info("Webhook delivery %s attempt %s: already made or not pending", delivery_id, number)
        return None
    delivery = WebhookDelivery.objects.select_related("user").get(pk=delivery_id)
    attempt = WebhookAttempt.objects.create(
        delivery=delivery,
        number=number,
        started_at=now,
        manual=manual,
        task_id=task_id,
        request_id=delivery.request_id,
    )

    result, now, changes = _send_and_judge(delivery, number=number)

    attempt.finished_at = now
    attempt.status_code = result.status_code
    attempt.latency_ms = result.latency_ms
    attempt.response_body = result.response_body
    attempt.error = result.error

    # The attempt's outcome and the delivery's state change together.
    with transaction.atomic():
        attempt.save(update_fields=["finished_at", "status_code", "latency_ms", "response_body", "error"])
        current = WebhookDelivery.objects.filter(
            pk=delivery.pk, attempt_count=number, redelivered_after_attempt__lt=number
        ).update(**changes)
        if result.status_code == 410:
            _stop_url(delivery, now)
    if manual:
        # The redelivery has landed: the owner may ask for another.
        cache.delete(_redelivery_key(delivery.pk))
    logger.info(
        "Webhook delivery %s attempt %s to %s: %s in %s ms%s",
        delivery.webhook_id,
        number,
        url_for_log(delivery.url),
        result.status_code if result.status_code is not None else result.error,
        result.latency_ms,
        "" if current else " (superseded by a newer attempt or a redelivery; delivery state left as is)",
    )
    return attempt
