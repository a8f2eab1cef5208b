"""Where the API and its job routes live, for the URLconf (config/urls.py,
api/urls.py) and for a job's URLs in its representation. The workers render
those for webhook payloads; reversing them through the URLconf would import
every view, and DRF's serializers with them, into each worker process (about
23 MB). tests/api/test_job_representation.py holds the two in step."""

API_ROOT = "api/v1/"
JOB = "jobs/<uuid:job_id>"
JOB_CANCEL = f"{JOB}/cancel"
