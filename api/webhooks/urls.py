from django.urls import URLPattern, URLResolver, path

from api.webhooks import views

app_name = "webhooks"

urlpatterns: list[URLPattern | URLResolver] = [
    path("webhooks/secret", views.WebhookSecretApi.as_view(), name="secret"),
    path("webhooks/secret/rotate", views.WebhookSecretRotateApi.as_view(), name="secret-rotate"),
    path("webhooks/settings", views.WebhookSettingsApi.as_view(), name="settings"),
    path(
        "jobs/<uuid:job_id>/webhook-deliveries",
        views.JobWebhookDeliveryListApi.as_view(),
        name="job-deliveries",
    ),
    path(
        "webhook-deliveries/<uuid:delivery_id>/redeliver",
        views.WebhookDeliveryRedeliverApi.as_view(),
        name="delivery-redeliver",
    ),
]
