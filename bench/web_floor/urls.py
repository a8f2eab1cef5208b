from django.urls import path

from bench.web_floor.views import MeApi, SubmitApi

urlpatterns = [
    path("solve", SubmitApi.as_view()),
    path("me", MeApi.as_view()),
]
