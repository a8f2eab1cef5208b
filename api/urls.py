from django.urls import URLPattern, URLResolver, path

from api import paths, views

app_name = "api"

urlpatterns: list[URLPattern | URLResolver] = [
    path("solve", views.JobCreateApi.as_view(), name="job-create"),
    path("jobs", views.JobListApi.as_view(), name="job-list"),
    path(paths.JOB, views.JobDetailApi.as_view(), name="job-detail"),
    path(paths.JOB_CANCEL, views.JobCancelApi.as_view(), name="job-cancel"),
]
