"""The assessment pages of a case, under ``cases/<pk>/assessments/``."""

from django.urls import path

from prepare.assessments import over_time, pdf, views

app_name = "assessments"

CASE = "cases/<int:pk>/assessments/"
ONE = CASE + "<int:assessment_pk>/"

urlpatterns = [
    path(CASE, views.history_view, name="list"),
    path(CASE + "new/", views.start_view, name="start"),
    path(ONE, views.assessment_view, name="assessment"),
    path(ONE + "edit/", views.edit_view, name="edit"),
    path(ONE + "autosave/", views.autosave_view, name="autosave"),
    path(ONE + "countersign/", views.countersign_view, name="countersign"),
    path(ONE + "correct/", views.correct_view, name="correct"),
    path(ONE + "discard/", views.discard_view, name="discard"),
    # Over time: the comparison, the trajectory, the PDF of one assessment.
    path(CASE + "compare/", over_time.compare_view, name="compare"),
    path(CASE + "trajectory/<int:instrument_id>/", over_time.trajectory_view, name="trajectory"),
    path(ONE + "pdf/", pdf.pdf_view, name="pdf"),
]
