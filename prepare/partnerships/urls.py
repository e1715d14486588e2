from django.urls import path

from prepare.partnerships import closure_views, retention_views, views
from prepare.partnerships.access_changes import views as access_change_views
from prepare.plans import template_views

app_name = "partnerships"

urlpatterns = [
    path("", views.partnership_list, name="list"),
    path("<int:pk>/", views.partnership_detail, name="detail"),
    path("<int:pk>/agreements/new/", views.agreement_create, name="agreement_create"),
    path(
        "<int:pk>/agreements/<int:agreement_pk>/",
        views.agreement_edit,
        name="agreement_edit",
    ),
    path(
        "<int:pk>/access-changes/",
        access_change_views.access_change_list,
        name="access_changes",
    ),
    path(
        "access-changes/<int:access_change_pk>/",
        access_change_views.access_change_detail,
        name="access_change",
    ),
    path("<int:pk>/settings/", views.partnership_settings, name="settings"),
    path("<int:pk>/members/", views.members, name="members"),
    path(
        "<int:pk>/members/<int:membership_pk>/end/",
        views.membership_end,
        name="membership_end",
    ),
    path("<int:pk>/retention/", retention_views.retention_settings, name="retention"),
    path("<int:pk>/closure/", closure_views.closure_settings, name="closure"),
    *template_views.urlpatterns,
]
