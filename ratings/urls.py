from django.urls import path

from ratings.views import reports as views

urlpatterns = [
    path("report/", views.report_create, name="report-create"),
    path("reports/", views.report_list, name="report-list"),
    path("reports/queue/", views.report_queue_page, name="report-queue"),
    path(
        "reports/<uuid:public_id>/",
        views.report_detail,
        name="report-detail",
    ),
    path(
        "reports/<uuid:public_id>/transition/",
        views.report_transition_submit,
        name="report-transition",
    ),
    path(
        "reports/<uuid:public_id>/evidence/<int:evidence_id>/",
        views.report_evidence,
        name="report-evidence",
    ),
]
