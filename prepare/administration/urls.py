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
    path("instruments/", views.instrument_list, name="instruments"),
    path("instruments/load/", views.instrument_load, name="instrument_load"),
    path(
        "instruments/versions/<int:instrument_version_id>/",
        views.instrument_version,
        name="instrument_version",
    ),
    # One version's files: YAML, workbook, FHIR Questionnaire.
    *(
        path(
            f"instruments/versions/<int:instrument_version_id>/{file_format}/",
            views.instrument_download,
            {"file_format": file_format},
            name=f"instrument_{file_format}",
        )
        for file_format in ("yaml", "xlsx", "fhir")
    ),
    path(
        "partnerships/<int:pk>/coordinator/",
        views.coordinator_appoint,
        name="coordinator_appoint",
    ),
]
