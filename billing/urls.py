from django.urls import URLPattern, URLResolver, path

from billing import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("usage", views.UsageListApi.as_view(), name="billing-usage"),
    path("summary", views.BillingSummaryApi.as_view(), name="billing-summary"),
    path("periods", views.PeriodListApi.as_view(), name="billing-periods"),
    path("periods/<int:pk>", views.PeriodDetailApi.as_view(), name="billing-period"),
    path("periods/<int:pk>/mark-paid", views.PeriodMarkPaidApi.as_view(), name="billing-period-mark-paid"),
]
