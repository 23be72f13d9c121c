from django.urls import path

from ratings.api import reports as views

urlpatterns = [
    path("reports/", views.ReportCollectionApi.as_view(), name="api-report-list"),
    path(
        "reports/<uuid:public_id>/",
        views.ReportDetailApi.as_view(),
        name="api-report-detail",
    ),
    path(
        "reports/<uuid:public_id>/transition/",
        views.ReportTransitionApi.as_view(),
        name="api-report-transition",
    ),
    path(
        "reports/<uuid:public_id>/evidence/<int:evidence_id>/",
        views.ReportEvidenceDownloadApi.as_view(),
        name="api-report-evidence",
    ),
]
