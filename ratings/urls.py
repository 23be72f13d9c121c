from django.urls import path

from ratings.views import cycles as cycle_views
from ratings.views import decisions as decision_views
from ratings.views import methodologies
from ratings.views import registry as registry_views
from ratings.views import reports as views
from ratings.views import sanctions as sanction_views
from ratings.views import surveillance as surveillance_views

urlpatterns = [
    # Methodologies and enrolment (before any credit/<publisher>/ route).
    path("credit/console/", methodologies.console_index, name="credit-console"),
    path(
        "credit/console/<slug:body>/",
        methodologies.body_console,
        name="credit-body-console",
    ),
    path(
        "credit/console/<slug:body>/methodologies/",
        methodologies.body_methodology_list,
        name="credit-body-methodologies",
    ),
    path(
        "credit/console/<slug:body>/methodologies/new/",
        methodologies.body_methodology_create,
        name="credit-body-methodology-new",
    ),
    path(
        "credit/console/<slug:body>/methodologies/<uuid:public_id>/",
        methodologies.body_methodology_detail,
        name="credit-body-methodology",
    ),
    path(
        "credit/console/<slug:body>/methodologies/<uuid:public_id>/publish/",
        methodologies.body_methodology_publish,
        name="credit-body-methodology-publish",
    ),
    path(
        "credit/console/<slug:body>/methodologies/<uuid:public_id>/new-version/",
        methodologies.body_methodology_new_version,
        name="credit-body-methodology-new-version",
    ),
    path(
        "credit/methodologies/",
        methodologies.methodology_list_page,
        name="credit-methodology-list",
    ),
    path(
        "credit/methodologies/<slug:body>/<slug:code>/v<int:version>/",
        methodologies.methodology_detail_page,
        name="credit-methodology-detail",
    ),
    path("credit/entity/", methodologies.entity_index, name="credit-entity-index"),
    path(
        "credit/entity/<slug:entity>/",
        methodologies.entity_console,
        name="credit-entity-console",
    ),
    path(
        "credit/entity/<slug:entity>/enrol/<slug:body>/",
        methodologies.entity_enrol,
        name="credit-entity-enrol",
    ),
    path(
        "credit/entity/<slug:entity>/enrolments/<int:pk>/withdraw/",
        methodologies.entity_withdraw,
        name="credit-entity-withdraw",
    ),
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
    path(
        "reports/<uuid:public_id>/answer/",
        views.report_answer_submit,
        name="report-answer",
    ),
    path("reports/about-us/", views.report_entity_list, name="report-entity-list"),
    path("reports/investigate/", views.report_body_list, name="report-body-list"),
    path(
        "credit/console/<slug:body>/watches/",
        surveillance_views.body_watches,
        name="credit-body-watches",
    ),
    path(
        "credit/console/<slug:body>/watches/<uuid:public_id>/resolve/",
        surveillance_views.watch_resolve_submit,
        name="credit-watch-resolve",
    ),
    path(
        "credit/console/<slug:slug>/sanctions/",
        sanction_views.body_sanctions,
        name="credit-body-sanctions",
    ),
    path(
        "credit/console/<slug:slug>/sanctions/ratings/<int:rating_id>/impose/",
        sanction_views.sanction_impose_submit,
        name="credit-sanction-impose",
    ),
    path(
        "credit/console/<slug:slug>/repairs/<uuid:public_id>/decide/",
        sanction_views.repair_decide_submit,
        name="credit-repair-decide",
    ),
    path(
        "credit/entity/<slug:slug>/sanctions/",
        sanction_views.entity_sanctions,
        name="credit-entity-sanctions",
    ),
    path(
        "credit/entity/<slug:slug>/sanctions/<uuid:public_id>/repair/",
        sanction_views.repair_apply_submit,
        name="credit-repair-apply",
    ),
    # Rating cycles and decisions (ratings.views.cycles, ratings.views.decisions).
    path(
        "credit/console/<slug:body>/cycles/",
        cycle_views.body_cycles,
        name="credit-body-cycles",
    ),
    path(
        "credit/cycles/<uuid:public_id>/",
        cycle_views.cycle_detail,
        name="credit-cycle-detail",
    ),
    path(
        "credit/cycles/<uuid:public_id>/progress/",
        cycle_views.cycle_progress_partial,
        name="credit-cycle-progress",
    ),
    path(
        "credit/cycles/<uuid:public_id>/cancel/",
        cycle_views.cycle_cancel_submit,
        name="credit-cycle-cancel",
    ),
    path(
        "credit/cycles/<uuid:public_id>/bulk-review/",
        cycle_views.cycle_bulk_review,
        name="credit-cycle-bulk-review",
    ),
    path(
        "credit/cycles/<uuid:public_id>/bulk-vote/",
        cycle_views.cycle_bulk_vote,
        name="credit-cycle-bulk-vote",
    ),
    path(
        "credit/ratings/<int:pk>/",
        decision_views.rating_detail,
        name="credit-rating-detail",
    ),
    path(
        "credit/ratings/<int:pk>/review/",
        decision_views.rating_review_submit,
        name="credit-rating-review",
    ),
    path(
        "credit/ratings/<int:pk>/vote/",
        decision_views.rating_vote_submit,
        name="credit-rating-vote",
    ),
    path(
        "credit/ratings/<int:pk>/notify/",
        decision_views.rating_notify_submit,
        name="credit-rating-notify",
    ),
    path(
        "credit/ratings/<int:pk>/publish/",
        decision_views.rating_publish_submit,
        name="credit-rating-publish",
    ),
    path(
        "credit/ratings/<int:pk>/answer/",
        decision_views.rating_answer_submit,
        name="credit-rating-answer",
    ),
    path(
        "credit/ratings/<int:pk>/conflict/",
        decision_views.rating_conflict_submit,
        name="credit-rating-conflict",
    ),
    path(
        "credit/entity/<slug:entity>/ratings/",
        decision_views.entity_ratings,
        name="credit-entity-ratings",
    ),
    path(
        "credit/entity/<slug:entity>/ratings/<int:pk>/",
        decision_views.entity_rating_detail,
        name="credit-entity-rating-detail",
    ),
    path(
        "credit/entity/<slug:entity>/ratings/<int:pk>/object/",
        decision_views.entity_rating_object,
        name="credit-entity-rating-object",
    ),
    # The public credit registry. The credit/<publisher>/ routes stay last: a
    # fixed credit/<name>/ path added after them would never be reached.
    path("credit/", registry_views.registry_page, name="credit-registry"),
    path(
        "credit/dishonesty-list/",
        registry_views.dishonesty_list_page,
        name="credit-dishonesty-list",
    ),
    path(
        "credit/dishonesty-list.json",
        registry_views.dishonesty_list_json,
        name="credit-dishonesty-list-json",
    ),
    path(
        "credit/<slug:publisher>.json",
        registry_views.profile_json,
        name="credit-profile-json",
    ),
    path(
        "credit/<slug:publisher>/",
        registry_views.profile_page,
        name="credit-profile",
    ),
]
