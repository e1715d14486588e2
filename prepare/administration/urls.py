from django.urls import path

from prepare.administration import views

app_name = "administration"

urlpatterns = [
    path("", views.home, name="home"),
    path("organisations/", views.organisation_list, name="organisations"),
    path("organisations/new/", views.organisation_create, name="organisation_create"),
    path("organisations/<int:pk>/", views.organisation_edit, name="organisation"),
    path("partnerships/", views.partnership_list, name="partnerships"),
    path("partnerships/new/", views.partnership_create, name="partnership_create"),
    path("partnerships/<int:pk>/", views.partnership_detail, name="partnership"),
    path("partnerships/<int:pk>/edit/", views.partnership_edit, name="partnership_edit"),
    path("imports/", views.import_upload, name="import"),
    path("imports/proposal/", views.import_propose, name="import_propose"),
    path(
        "partnerships/<int:pk>/coordinator/",
        views.coordinator_appoint,
        name="coordinator_appoint",
    ),
]
