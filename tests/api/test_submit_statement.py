"""A submission on PostgreSQL, outside a transaction: the lock on the user's
row of JobsInFlight and the job's INSERT go together, a transaction of their own, in one
round trip (prepared, in a pipeline; with prepared statements off, one
string of two statements). Inside a caller's transaction they go in a
savepoint (tests/api/test_job_create.py runs there)."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import OperationalError, connection, connections
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from api.models import Job, JobsInFlight
from api.services import job_submit
from config import rows
from config.problems import Problem
from tests.api.helpers import image_bytes, stored_inputs
from tests.races import InThread, transaction_held_open

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite submits in a transaction"),
    pytest.mark.django_db(transaction=True),
]


def _in_flight_row_free(user: User) -> bool:
    """Whether another session can lock the user's row of JobsInFlight at once."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SET lock_timeout = '100ms'")
            try:
                sql = f"SELECT 1 FROM {rows.table(JobsInFlight)} WHERE user_id = %s FOR UPDATE NOWAIT"  # noqa: S608
                cursor.execute(sql, [user.pk])
            except OperationalError:  # LockNotAvailable
                return False
        return True
    finally:
        other.close()


def _idle() -> bool:
    raw = connection.connection
    return raw is not None and raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_it_is_one_statement_and_holds_nothing_after_it(alice, sent_tasks) -> None:
    JobsInFlight.objects.create(user=alice)

    def lock_row() -> None:
        with connection.cursor() as cursor:
            sql = f"SELECT 1 FROM {rows.table(JobsInFlight)} WHERE user_id = %s FOR UPDATE"  # noqa: S608
            cursor.execute(sql, [alice.pk])

    with transaction_held_open(lock_row):
        assert not _in_flight_row_free(alice)  # the probe sees a held lock

    with CaptureQueriesContext(connection) as queries:
        job = job_submit(user=alice, image=image_bytes()).job

    statements = [query["sql"] for query in queries.captured_queries]
    if len(statements) == 1:  # one string (prepared statements off)
        statements = statements[0].split("; ", 1)
    lock, insert = statements
    assert lock.startswith(f"INSERT INTO {rows.table(JobsInFlight)}") and "ON CONFLICT" in lock
    assert insert.startswith(f"INSERT INTO {rows.table(Job)}")
    assert _idle()
    assert _in_flight_row_free(alice)
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED
    # Published at once: the statement has committed.
    assert [task["args"] for task in sent_tasks] == [[str(job.pk)]]


def test_it_refuses_past_the_cap_and_holds_nothing(alice, settings, sent_tasks) -> None:
    settings.JOB_MAX_IN_FLIGHT = 1
    job_submit(user=alice, image=image_bytes())
    stored_before = stored_inputs()

    with pytest.raises(Problem) as refused:
        job_submit(user=alice, image=image_bytes())

    assert refused.value.status_code == 429
    assert stored_inputs() == stored_before
    assert _idle() and _in_flight_row_free(alice)
    assert Job.objects.filter(user=alice).count() == 1
    assert len(sent_tasks) == 1


def test_a_failed_insert_rolls_back_the_lock_and_leaves_the_connection_usable(alice, monkeypatch, sent_tasks):
    """A twin caught by the unique (user, Idempotency-Key): the lock's and
    the INSERT's transaction rolls back as a whole, and the connection answers the
    look-up that tells a key in use from another error."""
    from api import services

    first = job_submit(user=alice, image=image_bytes(), idempotency_key="order-1").job
    monkeypatch.setattr(services, "_replay_or_conflict", lambda **kwargs: None)
    stored_before = stored_inputs()

    with pytest.raises(Problem) as refused:
        job_submit(user=alice, image=image_bytes(), idempotency_key="order-1")

    assert refused.value.status_code == 409
    assert _idle() and _in_flight_row_free(alice)
    assert list(Job.objects.filter(user=alice).values_list("pk", flat=True)) == [first.pk]
    assert stored_inputs() == stored_before
    assert len(sent_tasks) == 1


def test_concurrent_submissions_of_one_user_admit_exactly_the_cap(alice, bob, settings, sent_tasks) -> None:
    """Ten submissions of one user at once, room for three, its first ones:
    each waits for the lock (the first makes the row it locks), then reads
    the count the ones before it committed."""
    settings.JOB_MAX_IN_FLIGHT = 3
    start = threading.Barrier(10)

    def submit(user: User) -> int:
        # No connection is taken before the barrier: more threads than the
        # pool holds wait there.
        start.wait(30)
        try:
            job_submit(user=user, image=image_bytes())
        except Problem as problem:
            return problem.status_code
        return 202

    runs = [InThread(lambda: submit(alice)) for _ in range(8)] + [
        InThread(lambda: submit(bob)) for _ in range(2)
    ]
    outcomes = sorted(run.result() for run in runs)

    assert outcomes == [202] * 5 + [429] * 5
    assert Job.objects.filter(user=alice, status__in=Job.ACTIVE).count() == 3
    assert Job.objects.filter(user=bob, status__in=Job.ACTIVE).count() == 2
    # The kept count agrees, made by the first of each user's submissions.
    assert dict(JobsInFlight.objects.values_list("user_id", "jobs")) == {alice.pk: 3, bob.pk: 2}
