from django.urls import path

from prepare.assessments import views

app_name = "assessments"

urlpatterns = [
    path("cases/<int:pk>/assessments/", views.history_view, name="list"),
    path("cases/<int:pk>/assessments/new/", views.start_view, name="start"),
    path(
        "cases/<int:pk>/assessments/<int:assessment_pk>/",
        views.assessment_view,
        name="assessment",
    ),
    path(
        "cases/<int:pk>/assessments/<int:assessment_pk>/edit/",
        views.edit_view,
        name="edit",
    ),
    path(
        "cases/<int:pk>/assessments/<int:assessment_pk>/autosave/",
        views.autosave_view,
        name="autosave",
    ),
    path(
        "cases/<int:pk>/assessments/<int:assessment_pk>/countersign/",
        views.countersign_view,
        name="countersign",
    ),
    path(
        "cases/<int:pk>/assessments/<int:assessment_pk>/correct/",
        views.correct_view,
        name="correct",
    ),
    path(
        "cases/<int:pk>/assessments/<int:assessment_pk>/discard/",
        views.discard_view,
        name="discard",
    ),
]
