"""Home, Try it and the jobs pages."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import APIException

from accounts.authentication import authenticated_user
from api import services
from api.images import image_too_large_bytes
from api.models import Job
from api.representation import job_representation
from api.selectors import job_get_for_user, job_list_for_user
from api.throttles import SubmitThrottle
from api.webhooks.selectors import webhook_deliveries_for_job, webhook_delivery_get_for_user
from api.webhooks.services import webhook_delivery_redeliver
from billing.selectors import billing_summary_for_user
from config.problems import Problem
from config.request_id import get_request_id
from dashboard import forms
from dashboard.views.common import customer_page, page, throttle_wait, throttled_message

JOBS_PER_PAGE = 20


@customer_page
def home_page(request: HttpRequest) -> HttpResponse:
    user = authenticated_user(request)
    summary = billing_summary_for_user(user_id=user.pk, now=timezone.now())
    recent = job_list_for_user(user=user)[:5]
    return page(request, "dashboard/home.html", {"summary": summary, "recent_jobs": recent})


@customer_page
@require_http_methods(["GET", "POST"])
def try_page(request: HttpRequest) -> HttpResponse:
    """Submit through the API's own service; the job's page follows it live."""
    user = authenticated_user(request)
    form = forms.SolveForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["image"]
        wait = throttle_wait(request, SubmitThrottle())
        try:
            if wait is not None:
                raise Problem(status=429, slug="rate-limited", detail=throttled_message(wait))
            if upload.size is not None and upload.size > settings.JOB_MAX_IMAGE_BYTES:
                raise image_too_large_bytes()
            submission = services.job_submit(
                user=user,
                image=upload.read(),
                prompt=form.cleaned_data["prompt"],
                model=form.cleaned_data["model"],
                request_id=get_request_id() or "",
            )
        except APIException as exc:
            forms.errors_to_form(form, exc)
            status = exc.status_code
        else:
            return redirect("dashboard:job-detail", job_id=submission.job.pk)
    return page(request, "dashboard/try.html", {"form": form}, status=status)


@customer_page
def job_list_page(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in Job.Status.values:
        status = ""
    jobs = job_list_for_user(user=authenticated_user(request), statuses=[status] if status else None)
    paginated = Paginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    return page(
        request,
        "dashboard/jobs.html",
        {"jobs": paginated, "status": status, "statuses": Job.Status.values},
    )


@customer_page
def job_detail_page(request: HttpRequest, job_id: UUID) -> HttpResponse:
    user = authenticated_user(request)
    job = job_get_for_user(user=user, job_id=job_id)
    return page(
        request,
        "dashboard/job_detail.html",
        {
            "job": job,
            "data": job_representation(job),
            "deliveries": webhook_deliveries_for_job(user=user, job_id=job.pk),
        },
    )


@customer_page
def job_image(request: HttpRequest, job_id: UUID) -> FileResponse:
    """The job's input image, to its owner only (the storage may be private S3)."""
    job = job_get_for_user(user=authenticated_user(request), job_id=job_id)
    if not job.image:
        raise Http404("The input image was deleted after the retention period.")
    response = FileResponse(job.image.open("rb"), content_type=f"image/{job.image_format or 'png'}")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@customer_page
@require_POST
def job_cancel(request: HttpRequest, job_id: UUID) -> HttpResponse:
    job = job_get_for_user(user=authenticated_user(request), job_id=job_id)
    try:
        services.job_cancel(job=job)
        messages.success(request, "The job is canceled.")
    except Problem as exc:
        messages.error(request, str(exc.detail))
    return redirect("dashboard:job-detail", job_id=job.pk)


@customer_page
@require_POST
def delivery_redeliver(request: HttpRequest, delivery_id: UUID) -> HttpResponse:
    delivery = webhook_delivery_get_for_user(user=authenticated_user(request), delivery_id=delivery_id)
    webhook_delivery_redeliver(delivery=delivery)
    messages.success(request, "The event is being sent again.")
    return redirect("dashboard:job-detail", job_id=delivery.job_id)
