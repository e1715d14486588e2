from django.urls import path

from prepare.cases import views
from prepare.cases.lifecycle import views as lifecycle_views
from prepare.cases.retention import views as retention_views
from prepare.cases.timeline import views as timeline_views
from prepare.cases.transfer import views as transfer_views

app_name = "cases"

urlpatterns = [
    path("cases/", views.caseload_view, name="caseload"),
    path("cases/<int:pk>/", views.case_view, name="case"),
    path("cases/<int:pk>/notes/", views.note_create_view, name="note_create"),
    path("cases/<int:pk>/notes/<int:note_pk>/edit/", views.note_edit_view, name="note_edit"),
    path("cases/<int:pk>/notes/<int:note_pk>/reply/", views.note_reply_view, name="note_reply"),
    path(
        "cases/<int:pk>/notes/<int:note_pk>/history/",
        views.note_history_view,
        name="note_history",
    ),
    path("cases/<int:pk>/team/", views.team_view, name="team"),
    path(
        "cases/<int:pk>/team/<int:member_pk>/remove/",
        views.team_remove_view,
        name="team_remove",
    ),
    path("cases/<int:pk>/break-glass/", views.break_glass_view, name="break_glass"),
    path("break-glass-reviews/", views.break_glass_reviews_view, name="break_glass_reviews"),
    path("cases/<int:pk>/timeline/", timeline_views.timeline_view, name="timeline"),
    path(
        "cases/<int:pk>/retention/",
        retention_views.retention_section_view,
        name="retention_section",
    ),
    path(
        "cases/<int:pk>/retention/holds/",
        retention_views.legal_hold_place_view,
        name="legal_hold_place",
    ),
    path(
        "cases/<int:pk>/retention/holds/release/",
        retention_views.legal_hold_release_view,
        name="legal_hold_release",
    ),
    path("legal-holds/", retention_views.dpo_legal_holds_view, name="legal_holds"),
    path("cases/<int:pk>/erasure/", retention_views.erasure_view, name="erasure"),
    path("erasure-requests/", retention_views.dpo_erasure_view, name="erasure_requests"),
    # Referral, triage, status and key dates (prepare.cases.lifecycle.views).
    path("referrals/new/", lifecycle_views.referral_create_view, name="referral_create"),
    path("triage/", lifecycle_views.triage_queue_view, name="triage_queue"),
    path("cases/<int:pk>/triage/", lifecycle_views.triage_decide_view, name="triage_decide"),
    path(
        "cases/<int:pk>/lifecycle/",
        lifecycle_views.lifecycle_section_view,
        name="lifecycle_section",
    ),
    path("cases/<int:pk>/transitions/", lifecycle_views.transition_view, name="transition"),
    path("cases/<int:pk>/key-dates/", lifecycle_views.key_dates_view, name="key_dates"),
    # Transfer to another partnership (prepare.cases.transfer.views).
    path(
        "cases/<int:pk>/transfer/",
        transfer_views.transfer_section_view,
        name="transfer_section",
    ),
    path("transfers/", transfer_views.transfer_inbox_view, name="transfer_inbox"),
    path(
        "transfers/<int:transfer_pk>/",
        transfer_views.transfer_decide_view,
        name="transfer_decide",
    ),
    path(
        "transfers/<int:transfer_pk>/withdraw/",
        transfer_views.transfer_withdraw_view,
        name="transfer_withdraw",
    ),
]
