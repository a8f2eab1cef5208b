"""The count of each user's jobs in flight (api.models.JobsInFlight), kept
by triggers on api_job, and filled from the jobs there are. In flight:
queued or running (Job.ACTIVE)."""

from django.conf import settings
from django.db import migrations, models

POSTGRESQL_CREATE = [
    """
    CREATE FUNCTION api_jobs_in_flight_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.user_id = NEW.user_id
         AND (OLD.status IN ('queued', 'running')) = (NEW.status IN ('queued', 'running')) THEN
        RETURN NULL;
      END IF;
      IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN ('queued', 'running') THEN
        UPDATE api_jobs_in_flight SET jobs = jobs - 1 WHERE user_id = OLD.user_id;
      END IF;
      IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status IN ('queued', 'running') THEN
        INSERT INTO api_jobs_in_flight (user_id, jobs) VALUES (NEW.user_id, 1)
        ON CONFLICT (user_id) DO UPDATE SET jobs = api_jobs_in_flight.jobs + 1;
      END IF;
      RETURN NULL;
    END
    $$
    """,
    # Created before the rows are counted: it locks the job table against
    # writes until the migration commits, so none falls between the two.
    """
    CREATE TRIGGER api_job_in_flight AFTER INSERT OR DELETE OR UPDATE OF status, user_id ON api_job
    FOR EACH ROW EXECUTE FUNCTION api_jobs_in_flight_count()
    """,
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS api_job_in_flight ON api_job",
    "DROP FUNCTION IF EXISTS api_jobs_in_flight_count()",
]
SQLITE_CREATE = [
    """
    CREATE TRIGGER api_job_in_flight_insert AFTER INSERT ON api_job
    WHEN NEW.status IN ('queued', 'running')
    BEGIN
      INSERT INTO api_jobs_in_flight (user_id, jobs) VALUES (NEW.user_id, 1)
      ON CONFLICT (user_id) DO UPDATE SET jobs = jobs + 1;
    END
    """,
    """
    CREATE TRIGGER api_job_in_flight_delete AFTER DELETE ON api_job
    WHEN OLD.status IN ('queued', 'running')
    BEGIN
      UPDATE api_jobs_in_flight SET jobs = jobs - 1 WHERE user_id = OLD.user_id;
    END
    """,
    """
    CREATE TRIGGER api_job_in_flight_update AFTER UPDATE OF status, user_id ON api_job
    WHEN OLD.user_id != NEW.user_id OR (OLD.status IN ('queued', 'running')) != (NEW.status IN ('queued', 'running'))
    BEGIN
      UPDATE api_jobs_in_flight SET jobs = jobs - 1
      WHERE user_id = OLD.user_id AND OLD.status IN ('queued', 'running');
      INSERT INTO api_jobs_in_flight (user_id, jobs) SELECT NEW.user_id, 1 WHERE NEW.status IN ('queued', 'running')
      ON CONFLICT (user_id) DO UPDATE SET jobs = jobs + 1;
    END
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS api_job_in_flight_insert",
    "DROP TRIGGER IF EXISTS api_job_in_flight_delete",
    "DROP TRIGGER IF EXISTS api_job_in_flight_update",
]
FILL = """
    INSERT INTO api_jobs_in_flight (user_id, jobs)
    SELECT user_id, COUNT(*) FROM api_job WHERE status IN ('queued', 'running') GROUP BY user_id
"""


def _run(schema_editor, statements):
    with schema_editor.connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def create_triggers(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    _run(schema_editor, [*(POSTGRESQL_CREATE if postgresql else SQLITE_CREATE), FILL])


def drop_triggers(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    _run(schema_editor, POSTGRESQL_DROP if postgresql else SQLITE_DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0004_job_lease"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="JobsInFlight",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        on_delete=models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("jobs", models.IntegerField(default=0)),
            ],
            options={"db_table": "api_jobs_in_flight", "verbose_name_plural": "jobs in flight"},
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
