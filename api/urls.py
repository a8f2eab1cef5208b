from django.urls import URLPattern, URLResolver, path

from api import views

app_name = "api"

urlpatterns: list[URLPattern | URLResolver] = [
    path("solve", views.JobCreateApi.as_view(), name="job-create"),
    path("jobs", views.JobListApi.as_view(), name="job-list"),
    path("jobs/<uuid:job_id>", views.JobDetailApi.as_view(), name="job-detail"),
    path("jobs/<uuid:job_id>/cancel", views.JobCancelApi.as_view(), name="job-cancel"),
]
