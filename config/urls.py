from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

# The bearer scheme's OpenAPI extension, loaded with the schema's views: a
# worker never builds the schema, and drf-spectacular's machinery (with
# Django's test client, which it imports) costs a process about 4 MB.
import accounts.schema  # noqa: F401
from api import paths
from config import handlers, health

api_v1 = [
    path("accounts/", include("accounts.urls")),
    path("", include("api.urls")),
    path("", include("api.webhooks.urls")),
    path("billing/", include("billing.urls")),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:home"), name="root"),
    path("dashboard/", include("dashboard.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path(paths.API_ROOT, include(api_v1)),
    # Anything else under /api/ is a problem+json 404, in DEBUG too.
    re_path(r"^api/", handlers.api_not_found),
]

handler404 = "config.handlers.not_found"
handler500 = "config.handlers.server_error"
