from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "api.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"
