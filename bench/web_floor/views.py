from __future__ import annotations

from celery import Celery
from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.web_floor.models import Job

celery_app = Celery("floor", broker=settings.CELERY_BROKER_URL)


@celery_app.task(name="floor.noop")
def noop(job_id: str) -> None:
    return None


class SubmitApi(APIView):
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        job = Job.objects.create(user=request.user, prompt=str(data.get("prompt", "")))
        noop.delay(str(job.id))
        return Response({"id": str(job.id), "status": job.status}, status=202)


class MeApi(APIView):
    def get(self, request: Request) -> Response:
        user = request.user
        return Response({"id": user.pk, "username": user.get_username()})
